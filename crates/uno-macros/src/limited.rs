//! `#[uno::concurrent_limited]` and its alias `#[uno::limited]`.
//!
//! The expansion keeps the function's signature and runs its body under
//! `Limiter::run`. With a limit, the limiter is a `static LazyLock<Limiter>` inside the
//! function, so every call (and every instantiation of a generic function) shares it;
//! with `limiter = EXPR`, the caller's limiter is borrowed on each call.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit};

use crate::args::{Arguments, not_async, unknown_key};
use crate::body::wrap_body;

const KEYS: &[&str] = &["max_concurrent", "limiter"];

/// Where the limiter comes from.
enum Source {
    /// A per-function static limiter with this limit.
    Limit(Expr),
    /// The caller's limiter.
    Shared(Expr),
}

pub(crate) fn expand(
    macro_name: &str,
    args: Arguments,
    function: ItemFn,
) -> syn::Result<TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(not_async(function.sig.fn_token.span(), macro_name));
    }
    let source = source(macro_name, args)?;
    let limiter = match &source {
        Source::Limit(limit) => quote_spanned! {limit.span()=>
            static __UNO_LIMITER: ::std::sync::LazyLock<::uno::limit::Limiter> =
                ::std::sync::LazyLock::new(|| {
                    ::uno::limit::Limiter::new(#limit)
                        .expect("the limit of #[uno::concurrent_limited] must be at least 1")
                });
            let __uno_limiter: &::uno::limit::Limiter = &__UNO_LIMITER;
        },
        Source::Shared(expr) => quote_spanned! {expr.span()=>
            let __uno_limiter: &::uno::limit::Limiter = &(#expr);
        },
    };
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let body = wrap_body(&sig, &block);
    let message = format!("#[uno::{macro_name}]: the limiter refused the call");
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #limiter
            match __uno_limiter.run(#body).await {
                ::core::result::Result::Ok(output) => output,
                // The caller runs under a uno deadline that has passed; the enclosing
                // `within`/`at`/`inherit` future resolves to `Elapsed` on this very poll,
                // so this call is about to be dropped: wait for that.
                ::core::result::Result::Err(::uno::limit::LimitError::DeadlinePassed) => {
                    ::core::future::pending().await
                }
                ::core::result::Result::Err(error) => ::core::panic!("{}: {}", #message, error),
            }
        }
    })
}

fn source(macro_name: &str, args: Arguments) -> syn::Result<Source> {
    let mut source = args.positional.map(Source::Limit);
    for pair in args.pairs {
        let next = match pair.key.to_string().as_str() {
            "max_concurrent" => Source::Limit(pair.value),
            "limiter" => Source::Shared(pair.value),
            _ => return Err(unknown_key(&pair.key, macro_name, KEYS)),
        };
        if source.is_some() {
            return Err(syn::Error::new(
                pair.key.span(),
                format!(
                    "#[uno::{macro_name}] takes one limit: a number, `max_concurrent = N` or `limiter = EXPR`; remove `{}`",
                    pair.key
                ),
            ));
        }
        source = Some(next);
    }
    let Some(source) = source else {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            format!(
                "#[uno::{macro_name}] needs a limit; write #[uno::{macro_name}(5)], `max_concurrent = 5` or `limiter = EXPR`"
            ),
        ));
    };
    if let Source::Limit(Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    })) = &source
        && int.base10_parse::<u64>()? == 0
    {
        return Err(syn::Error::new(
            int.span(),
            "a concurrency limit of 0 would never run the function; use a limit of at least 1",
        ));
    }
    Ok(source)
}
