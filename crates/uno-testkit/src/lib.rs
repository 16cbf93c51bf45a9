//! Test helpers shared by uno's crates. Dev-only: never a dependency of a pattern
//! crate's public API.
//!
//! Database tests find their servers through environment variables:
//!
//! | server      | variable                | default when unset                         |
//! |-------------|-------------------------|--------------------------------------------|
//! | PostgreSQL  | `UNO_TEST_POSTGRES_URL` | `postgres://postgres@127.0.0.1:5432/test`  |
//! | MySQL/MariaDB | `UNO_TEST_MYSQL_URL`  | `mysql://root@127.0.0.1:3306/test`         |
//!
//! A test asks for a server with [`server_url`]. When the server does not answer, the
//! test is skipped with a printed reason — unless the variable `CI` is `true`, where
//! a missing server is a failure, never a silent skip.
//!
//! ```
//! use uno_testkit::{Server, server_url};
//!
//! fn postgres_test() {
//!     let Some(url) = server_url(Server::Postgres) else {
//!         return; // skipped, and the reason was printed
//!     };
//!     assert!(url.starts_with("postgres://"));
//! }
//! # postgres_test();
//! ```

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

mod child;
mod examples;
pub mod metrics;
mod warnings;

pub use child::ChildProgram;
pub use examples::ExampleSet;

pub use warnings::warnings_during;

/// A database server that tests can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// PostgreSQL, found through `UNO_TEST_POSTGRES_URL`.
    Postgres,
    /// MySQL or MariaDB, found through `UNO_TEST_MYSQL_URL`.
    MySql,
}

impl Server {
    /// The environment variable that holds this server's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Server::Postgres => "UNO_TEST_POSTGRES_URL",
            Server::MySql => "UNO_TEST_MYSQL_URL",
        }
    }

    /// The URL used when the environment variable is unset: the server on this machine.
    pub fn default_url(self) -> &'static str {
        match self {
            Server::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Server::MySql => "mysql://root@127.0.0.1:3306/test",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Server::Postgres => 5432,
            Server::MySql => 3306,
        }
    }
}

/// Whether the tests run under CI (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The URL of `server` if it accepts connections.
///
/// Returns `None` after printing why the calling test is skipped when the server is
/// not reachable.
///
/// # Panics
///
/// Panics when the server is not reachable and [`in_ci`] is true: CI must never skip a
/// database test silently.
pub fn server_url(server: Server) -> Option<String> {
    let url = std::env::var(server.env_var()).unwrap_or_else(|_| server.default_url().into());
    match reachable(&url, server.default_port()) {
        Ok(()) => Some(url),
        Err(reason) => {
            let message = format!(
                "{server:?} is not reachable at {url} ({reason}); set {} to a running server",
                server.env_var()
            );
            assert!(!in_ci(), "CI=true and {message}");
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipped: {message}");
            }
            None
        }
    }
}

/// Checks that something accepts TCP connections at the URL's host and port.
fn reachable(url: &str, default_port: u16) -> Result<(), String> {
    let address = host_and_port(url, default_port)?;
    let addrs = address
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {address}: {err}"))?;
    let mut last_error = format!("{address} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(err) => last_error = format!("cannot connect to {addr}: {err}"),
        }
    }
    Err(last_error)
}

/// Extracts `host:port` from a URL such as `postgres://user:pw@host:5432/db?x=y`.
fn host_and_port(url: &str, default_port: u16) -> Result<String, String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Err(format!("{url:?} is not a URL (scheme://host/...)"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    // An IPv6 literal ends in `]` when it carries no port.
    let has_port = !host_port.ends_with(']')
        && host_port
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if has_port {
        Ok(host_port.to_owned())
    } else {
        Ok(format!("{host_port}:{default_port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_reads_user_host_port() {
        assert_eq!(
            host_and_port("postgres://postgres@127.0.0.1:5432/test", 1).unwrap(),
            "127.0.0.1:5432"
        );
        assert_eq!(
            host_and_port("mysql://root:pw@db.local/test?ssl=false", 3306).unwrap(),
            "db.local:3306"
        );
        assert_eq!(
            host_and_port("postgres://[::1]/x", 5432).unwrap(),
            "[::1]:5432"
        );
        assert_eq!(
            host_and_port("postgres://[::1]:6000/x", 5432).unwrap(),
            "[::1]:6000"
        );
    }

    #[test]
    fn host_and_port_rejects_non_urls() {
        assert!(host_and_port("localhost:5432", 5432).is_err());
        assert!(host_and_port("postgres:///db", 5432).is_err());
    }

    #[test]
    fn unreachable_port_is_reported() {
        // Port 9 (discard) is not served on a test machine; the connection is refused.
        let err = reachable("postgres://127.0.0.1:9/db", 5432).unwrap_err();
        assert!(err.contains("127.0.0.1:9"), "{err}");
    }
}
