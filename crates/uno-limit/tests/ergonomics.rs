//! Error glue: a limiter's refusal folds into the work's own error type.

use std::io::ErrorKind;
use std::time::Duration;

use uno_limit::{BuildError, FullPolicy, KeyedLimiter, LimitError, Limiter, RateLimiter};

async fn fetch(ok: bool) -> std::io::Result<u32> {
    if ok {
        Ok(200)
    } else {
        Err(std::io::Error::other("reset by peer"))
    }
}

#[tokio::test(start_paused = true)]
async fn try_run_returns_one_result_with_the_refusal_as_an_io_error() -> std::io::Result<()> {
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Reject)
        .build()
        .map_err(std::io::Error::from)?;
    assert_eq!(limiter.try_run(fetch(true)).await?, 200);
    assert_eq!(
        limiter.try_run(fetch(false)).await.unwrap_err().kind(),
        ErrorKind::Other
    );
    let _busy = limiter.acquire().await.map_err(std::io::Error::from)?;
    let refused = limiter.try_run(fetch(true)).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::WouldBlock);
    let inner = refused
        .into_inner()
        .unwrap()
        .downcast::<LimitError>()
        .unwrap();
    assert_eq!(*inner, LimitError::Full { limit: 1 });

    let per_key = KeyedLimiter::new(1).map_err(std::io::Error::from)?;
    assert_eq!(per_key.try_run("a", fetch(true)).await?, 200);
    let rate = RateLimiter::new(1, Duration::from_secs(1)).map_err(std::io::Error::from)?;
    assert_eq!(rate.try_run(fetch(true)).await?, 200);
    Ok(())
}

#[test]
fn every_refusal_maps_to_a_fitting_io_error_kind() {
    let cases = [
        (LimitError::Closed, ErrorKind::BrokenPipe),
        (LimitError::Full { limit: 2 }, ErrorKind::WouldBlock),
        (
            LimitError::Limited {
                retry_after: Duration::from_millis(5),
            },
            ErrorKind::WouldBlock,
        ),
        (
            LimitError::Timeout {
                timeout: Duration::from_secs(1),
            },
            ErrorKind::TimedOut,
        ),
        (LimitError::DeadlinePassed, ErrorKind::TimedOut),
    ];
    // Bad configuration, refused at construction, is `InvalidInput`.
    for error in [
        BuildError::ZeroLimit,
        BuildError::LimitTooLarge {
            limit: usize::MAX,
            max: 1,
        },
        BuildError::InvalidConfig { reason: "x" },
    ] {
        let message = error.to_string();
        let io: std::io::Error = error.into();
        assert_eq!(io.kind(), ErrorKind::InvalidInput, "{message}");
        assert_eq!(io.to_string(), message);
    }
    for (error, kind) in cases {
        let message = error.to_string();
        let io: std::io::Error = error.into();
        assert_eq!(io.kind(), kind, "{message}");
        assert_eq!(io.to_string(), message);
    }
}
