//! Parsing of an attribute's argument list: `key = value` pairs, plus one optional
//! leading bare value (`#[uno::concurrent_limited(5)]`).
//!
//! Invariant: every key appears at most once; a repeated key is an error pointing at
//! its second use. What a key means is decided by the macro that asked for the list.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Token};

/// One `key = value` pair.
pub(crate) struct KeyValue {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

/// An attribute's arguments in the order written.
pub(crate) struct Arguments {
    /// A value written without a key, allowed only first.
    pub(crate) positional: Option<Expr>,
    pub(crate) pairs: Vec<KeyValue>,
}

impl Parse for Arguments {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut positional = None;
        let mut pairs: Vec<KeyValue> = Vec::new();
        let mut first = true;
        while !input.is_empty() {
            if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
                let key: Ident = input.parse()?;
                input.parse::<Token![=]>()?;
                let value: Expr = input.parse()?;
                if pairs.iter().any(|pair| pair.key == key) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`{key}` is given twice; keep only one `{key} = ..`"),
                    ));
                }
                pairs.push(KeyValue { key, value });
            } else if first {
                positional = Some(input.parse()?);
            } else {
                return Err(input.error("expected `key = value`; separate arguments with `,`"));
            }
            first = false;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(Arguments { positional, pairs })
    }
}

/// The error for a key the macro does not know, listing the keys it does.
pub(crate) fn unknown_key(key: &Ident, macro_name: &str, known: &[&str]) -> syn::Error {
    syn::Error::new(
        key.span(),
        format!(
            "unknown key `{key}` for #[uno::{macro_name}]; use one of: {}",
            known.join(", ")
        ),
    )
}

/// The error for a function that is not `async`.
pub(crate) fn not_async(span: Span, macro_name: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("#[uno::{macro_name}] applies to an `async fn`; add `async` before `fn`"),
    )
}
