//! A program a test runs as a child process and talks to through its output and
//! signals, with a watchdog: a child that stops printing or does not exit in time is
//! killed and the test fails, with what the child printed so far.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running child whose standard output is read line by line.
///
/// ```no_run
/// use std::process::Command;
/// use std::time::Duration;
/// use uno_testkit::ChildProgram;
///
/// let mut program = ChildProgram::start(
///     Command::new("sh").args(["-c", "echo ready; sleep 60"]),
///     Duration::from_secs(10),
/// );
/// program.read_until("ready");
/// program.signal("TERM");
/// let (status, output) = program.finish();
/// assert_eq!(status.code(), None, "ended by SIGTERM; printed {output:?}");
/// ```
#[derive(Debug)]
pub struct ChildProgram {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    watchdog: Duration,
}

impl ChildProgram {
    /// Starts `command` with its standard input closed and its standard output read
    /// line by line (its standard error is as `command` sets it, inherited by default).
    /// `watchdog` bounds each wait: for a line, and for the exit.
    ///
    /// # Panics
    ///
    /// When the command cannot be started.
    pub fn start(command: &mut Command, watchdog: Duration) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{command:?} cannot start: {error}"));
        Self::watch(child, watchdog)
    }

    /// Reads the output of a child already started with its standard output piped
    /// (for a child started another way, under `nohup` say).
    ///
    /// # Panics
    ///
    /// When the child's standard output is not piped.
    pub fn watch(mut child: Child, watchdog: Duration) -> Self {
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            watchdog,
        }
    }

    /// The child's process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Reads output until a line starts with `prefix`, and returns that line.
    ///
    /// # Panics
    ///
    /// When the output ends first, or no line comes within the watchdog (the child is
    /// then killed); the message holds what the child printed.
    pub fn read_until(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(self.watchdog) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line starting with {prefix:?} within {:?}; the child printed:\n{}",
                        self.watchdog,
                        self.seen.join("\n")
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "the child's output ended before a line starting with {prefix:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends the child the signal `name` (`INT`, `TERM`, `HUP`, ...) with `kill`.
    ///
    /// # Panics
    ///
    /// When `kill` fails.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Waits for the child to exit, and returns its status and every line it printed.
    ///
    /// # Panics
    ///
    /// When it does not exit within the watchdog (it is then killed).
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let (sender, exited) = mpsc::channel();
        let pid = self.child.id().to_string();
        let mut child = self.child;
        let waiter = std::thread::spawn(move || {
            let status = child.wait().expect("the child can be waited for");
            let _ = sender.send(());
            status
        });
        if exited.recv_timeout(self.watchdog).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!(
                "the child did not exit within {:?}; it printed:\n{}",
                self.watchdog,
                self.seen.join("\n")
            );
        }
        let status = waiter.join().expect("the waiter thread");
        // The child has exited, but the reader may not have passed on its last lines
        // yet: read until it closes the channel at the end of the output.
        while let Ok(line) = self.lines.recv_timeout(self.watchdog) {
            self.seen.push(line);
        }
        (status, self.seen)
    }
}
