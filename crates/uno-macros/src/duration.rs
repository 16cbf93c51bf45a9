//! Durations written in an attribute: `100ms`, `10s`, `1.5s`, or any expression of type
//! `std::time::Duration`.
//!
//! Invariant: a literal becomes `Duration::from_nanos(n)` with `n` computed here, so
//! a bad literal (no unit, an unknown unit, an overflow) is a compile error, never a
//! runtime panic.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit};

/// The units a duration literal may carry, with their length in nanoseconds.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("min", 60e9),
    ("h", 3600e9),
];

/// A parsed duration: either a literal's exact length or the user's expression.
pub(crate) enum DurationArg {
    /// A literal such as `100ms`, in nanoseconds.
    Literal(u64),
    /// Any other expression, trusted to be a `Duration`.
    Expression(Expr),
}

impl DurationArg {
    /// Parses `value`, the value of key `key`.
    pub(crate) fn parse(key: &str, value: &Expr) -> syn::Result<Self> {
        let Expr::Lit(ExprLit { lit, .. }) = value else {
            return Ok(DurationArg::Expression(value.clone()));
        };
        let (digits, suffix) = match lit {
            Lit::Int(int) => (int.base10_digits().to_owned(), int.suffix().to_owned()),
            Lit::Float(float) => (float.base10_digits().to_owned(), float.suffix().to_owned()),
            _ => return Err(bad(key, value, "it is not a number with a unit")),
        };
        let Some((_, nanos_per_unit)) = UNITS.iter().find(|(unit, _)| *unit == suffix) else {
            let why = if suffix.is_empty() {
                "it has no unit".to_owned()
            } else {
                format!("`{suffix}` is not a unit")
            };
            return Err(bad(key, value, &why));
        };
        let amount: f64 = digits
            .parse()
            .map_err(|_| bad(key, value, "it is not a number"))?;
        let nanos = (amount * nanos_per_unit).round();
        // u64 nanoseconds hold about 584 years; a longer literal is a typo.
        if !(0.0..=u64::MAX as f64).contains(&nanos) {
            return Err(bad(key, value, "it is too long"));
        }
        Ok(DurationArg::Literal(nanos as u64))
    }

    /// The literal's length in nanoseconds, when known at compile time.
    pub(crate) fn nanos(&self) -> Option<u64> {
        match self {
            DurationArg::Literal(nanos) => Some(*nanos),
            DurationArg::Expression(_) => None,
        }
    }

    /// The expression that builds this duration.
    pub(crate) fn to_tokens(&self) -> TokenStream {
        match self {
            DurationArg::Literal(nanos) => {
                quote!(::core::time::Duration::from_nanos(#nanos))
            }
            DurationArg::Expression(expr) => {
                quote_spanned!(expr.span()=> { let duration: ::core::time::Duration = #expr; duration })
            }
        }
    }
}

fn bad(key: &str, value: &Expr, why: &str) -> syn::Error {
    syn::Error::new(
        value.span(),
        format!(
            "bad duration for `{key}`: {why}; write a number with a unit (ns, us, ms, s, min, h) such as `100ms` or `1.5s`, or a `std::time::Duration` expression"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> syn::Result<Option<u64>> {
        let expr: Expr = syn::parse_str(text)?;
        Ok(DurationArg::parse("initial", &expr)?.nanos())
    }

    #[test]
    fn literals_with_units_become_exact_nanoseconds() {
        assert_eq!(nanos("100ms").unwrap(), Some(100_000_000));
        assert_eq!(nanos("10s").unwrap(), Some(10_000_000_000));
        assert_eq!(nanos("1.5s").unwrap(), Some(1_500_000_000));
        assert_eq!(nanos("2min").unwrap(), Some(120_000_000_000));
        assert_eq!(nanos("250us").unwrap(), Some(250_000));
    }

    #[test]
    fn expressions_are_passed_through() {
        assert_eq!(nanos("Duration::from_secs(1)").unwrap(), None);
    }

    #[test]
    fn literals_without_a_known_unit_are_refused() {
        for text in ["100", "10parsecs", "\"10s\""] {
            let message = nanos(text).unwrap_err().to_string();
            assert!(message.contains("bad duration for `initial`"), "{message}");
        }
    }
}
