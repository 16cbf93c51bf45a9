//! `?` from a group's errors into the error types applications return: a boxed error
//! and an `anyhow`-shaped error (anyhow itself is not a workspace dependency, so
//! `AnyError` below reproduces the shape that matters: not a `std::error::Error`
//! itself, and `From<E>` for every `E: Error + Send + Sync + 'static`).

use std::error::Error;
use std::fmt;

use uno_taskgroup::{GroupError, TaskError, TaskGroup};

type BoxError = Box<dyn Error + Send + Sync>;

/// Shaped like `anyhow::Error`: printable, not an error itself, and built with `?`
/// from any `Error + Send + Sync + 'static`.
struct AnyError(BoxError);

impl fmt::Debug for AnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for AnyError {
    fn from(error: E) -> Self {
        AnyError(Box::new(error))
    }
}

fn any_error(message: &str) -> AnyError {
    AnyError(message.into())
}

async fn sum_with_anyhow_like_errors(fail: bool) -> Result<u32, AnyError> {
    let group = TaskGroup::<u32, AnyError>::new();
    group.spawn(async { Ok(1) })?;
    group.spawn(async move {
        match fail {
            true => Err(any_error("the disk is full")),
            false => Ok(2),
        }
    })?;
    // The conversion under test: `GroupError<AnyError>` into `AnyError`.
    let values = group.join().await?;
    Ok(values.into_iter().sum())
}

#[tokio::test]
async fn group_error_of_anyhow_like_tasks_converts_with_question_mark() {
    assert_eq!(sum_with_anyhow_like_errors(false).await.unwrap(), 3);
    let error = sum_with_anyhow_like_errors(true).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the task group failed: task 1 failed: the disk is full"
    );
    // The group's error is still there to inspect, task by task.
    let group_error = error
        .0
        .downcast_ref::<GroupError<AnyError>>()
        .expect("a GroupError inside");
    let [(id, TaskError::Failed(task_error))] = group_error.failures() else {
        panic!("one failure expected: {:?}", group_error.failures());
    };
    assert_eq!(id.as_u64(), 1);
    assert_eq!(task_error.to_string(), "the disk is full");
}

async fn sum_with_boxed_errors() -> Result<u32, BoxError> {
    let group = TaskGroup::<u32, BoxError>::new();
    group.spawn(async { Ok(1) })?;
    group.spawn(async { Err("no route to host".into()) })?;
    Ok(group.join().await?.into_iter().sum())
}

#[tokio::test]
async fn group_error_of_boxed_error_tasks_converts_into_a_boxed_error() {
    let error = sum_with_boxed_errors().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the task group failed: task 1 failed: no route to host"
    );
    // Printed once: the message holds the failure, and there is no source repeating it.
    assert!(error.source().is_none());
    let group_error = error.downcast_ref::<GroupError<BoxError>>().unwrap();
    assert!(matches!(
        group_error.failures(),
        [(_, TaskError::Failed(_))]
    ));
}

async fn settle_one_with_question_mark() -> Result<(), BoxError> {
    let group = TaskGroup::<(), std::io::Error>::new();
    group.spawn(async { Err(std::io::Error::other("unplugged")) })?;
    for (_, outcome) in group.join_settled().await {
        // A single task's error converts too.
        outcome?;
    }
    Ok(())
}

#[tokio::test]
async fn a_settled_task_error_converts_into_a_boxed_error() {
    let error = settle_one_with_question_mark().await.unwrap_err();
    assert_eq!(error.to_string(), "task failed: unplugged");
}

async fn sum_with_anyhow_errors(fail: bool) -> anyhow::Result<u32> {
    let group = TaskGroup::<u32, anyhow::Error>::new();
    group.spawn(async { Ok(1) })?;
    group.spawn(async move {
        if fail {
            Err(anyhow::anyhow!("the disk is full"))
        } else {
            Ok(2)
        }
    })?;
    Ok(group.join().await?.into_iter().sum())
}

#[tokio::test]
async fn group_error_of_real_anyhow_tasks_converts_with_question_mark() {
    assert_eq!(sum_with_anyhow_errors(false).await.unwrap(), 3);
    let error = sum_with_anyhow_errors(true).await.unwrap_err();
    assert!(error.to_string().contains("the disk is full"), "{error}");
    let group_error = error
        .downcast_ref::<GroupError<anyhow::Error>>()
        .expect("a GroupError inside");
    assert_eq!(group_error.failures().len(), 1);
    // anyhow's full report names the failure once, not twice.
    let report = format!("{error:#}");
    assert_eq!(report.matches("the disk is full").count(), 1, "{report}");
}
