//! [`retry_after`]: the delay an HTTP response asks for in its `Retry-After` header.

use std::time::Duration;

/// The delay `response` asks for in its `Retry-After` header, given in seconds
/// (`Retry-After: 120`); `None` without one.
///
/// It fits [`RetryLayer::delay_hint_ok`](super::RetryLayer::delay_hint_ok), and, over a
/// response held in an error, the policy's
/// [`delay_hint`](crate::RetryPolicyBuilder::delay_hint). The delay it returns is still
/// capped by the policy's `max_delay` and checked against `max_elapsed` and the
/// caller's deadline. A number too large for a `u64` saturates (the server asks for a
/// very long wait); a value that is not a whole number of seconds, such as the
/// HTTP-date form, is not read, and the policy's own delay applies.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use http::Response;
/// use uno_retry::tower::retry_after;
///
/// let busy = Response::builder().status(503).header("retry-after", "3").body(()).unwrap();
/// assert_eq!(retry_after(&busy), Some(Duration::from_secs(3)));
/// assert_eq!(retry_after(&Response::new(())), None);
/// ```
pub fn retry_after<B>(response: &http::Response<B>) -> Option<Duration> {
    let value = response.headers().get(http::header::RETRY_AFTER)?;
    seconds(value.as_bytes())
}

/// Reads a `delay-seconds` value (RFC 9110, section 10.2.3): ASCII digits, with the
/// surrounding whitespace a header may carry; saturating instead of overflowing.
fn seconds(value: &[u8]) -> Option<Duration> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds = digits.iter().fold(0u64, |seconds, digit| {
        seconds
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::seconds;

    #[test]
    fn whole_seconds_are_read() {
        assert_eq!(seconds(b"0"), Some(Duration::ZERO));
        assert_eq!(seconds(b" 120 "), Some(Duration::from_secs(120)));
    }

    #[test]
    fn a_huge_number_saturates() {
        assert_eq!(
            seconds(b"99999999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn anything_else_is_not_read() {
        for value in [
            &b""[..],
            b"   ",
            b"-1",
            b"1.5",
            b"+3",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(seconds(value), None, "{value:?}");
        }
    }
}
