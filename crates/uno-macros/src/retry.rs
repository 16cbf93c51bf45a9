//! `#[uno::retry]`.
//!
//! The expansion keeps the function's signature and runs its body once per attempt
//! through `RetryPolicy::run`. The policy is a `static LazyLock<RetryPolicy<E>>` inside
//! the function, built on first use. A static cannot name a generic parameter or
//! `Self`, so a generic function, or one whose return type names `Self`, builds its
//! policy on each call instead (one builder run, no more).
//!
//! Each attempt gets fresh arguments: owned ones are cloned from the originals, shared
//! references and `&self` are copied. `&mut` arguments and `self` by value cannot be
//! handed to more than one attempt and are refused.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, Pat, PatIdent, Type};

use crate::args::{Arguments, not_async, unknown_key};
use crate::body::{contains_ident, return_type, wrap_body};
use crate::duration::DurationArg;

const KEYS: &[&str] = &[
    "max_attempts",
    "backoff",
    "initial",
    "max_delay",
    "max_elapsed",
    "jitter",
    "retry_if",
    "policy",
];

/// The strategies `backoff = ..` accepts, with the `RetryPolicy` constructor of each.
const STRATEGIES: &[(&str, &str)] = &[
    ("exponential", "exponential"),
    ("constant", "constant"),
    ("linear", "linear"),
    ("fibonacci", "fibonacci"),
    ("decorrelated", "decorrelated_jitter"),
];

/// The jitters `jitter = ..` accepts, with the `Jitter` variant of each.
const JITTERS: &[(&str, &str)] = &[("none", "None"), ("full", "Full"), ("equal", "Equal")];

pub(crate) fn expand(args: Arguments, function: ItemFn) -> syn::Result<TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(not_async(function.sig.fn_token.span(), "retry"));
    }
    if let Some(positional) = &args.positional {
        return Err(syn::Error::new(
            positional.span(),
            "#[uno::retry] takes `key = value` arguments, such as `max_attempts = 3`",
        ));
    }
    let Some(output) = return_type(&function.sig).filter(|_| returns_something(&function)) else {
        let span = match &function.sig.output {
            syn::ReturnType::Default => function.sig.ident.span(),
            syn::ReturnType::Type(_, ty) => ty.span(),
        };
        return Err(syn::Error::new(
            span,
            "#[uno::retry] needs a function that returns a `Result` (the error decides whether to retry); return `Result<T, E>`",
        ));
    };
    let policy = policy(args)?;
    let mut function = function;
    let attempt_arguments = attempt_arguments(&mut function)?;

    let per_call =
        !function.sig.generics.params.is_empty() || contains_ident(output.clone(), "Self");
    // Spanned at the return type, so that a return type that is not a `Result` is
    // reported there.
    let output_span = match &function.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => Span::call_site(),
    };
    let policy_type = quote_spanned! {output_span=>
        ::uno::retry::RetryPolicy<<#output as __UnoRetryResult>::Error>
    };
    let policy_binding = if per_call {
        quote! { let __uno_policy: #policy_type = #policy; let __uno_policy = &__uno_policy; }
    } else {
        quote! {
            static __UNO_POLICY: ::std::sync::LazyLock<#policy_type> =
                ::std::sync::LazyLock::new(|| #policy);
            let __uno_policy = &*__UNO_POLICY;
        }
    };

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let body = wrap_body(&sig, &block);
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #[diagnostic::on_unimplemented(
                message = "#[uno::retry] needs a function that returns a `Result`, not `{Self}`",
                label = "the error of a failed attempt decides whether to retry",
                note = "return `Result<T, E>` (or an alias of it)"
            )]
            trait __UnoRetryResult {
                type Error;
            }
            impl<T, E> __UnoRetryResult for ::core::result::Result<T, E> {
                type Error = E;
            }
            #policy_binding
            __uno_policy
                .run(move || {
                    #(#attempt_arguments)*
                    #body
                })
                .await
        }
    })
}

/// Whether the function has a return type other than `()`.
fn returns_something(function: &ItemFn) -> bool {
    matches!(function.sig.output, syn::ReturnType::Type(..))
}

/// The expression that builds the `RetryPolicy`.
fn policy(args: Arguments) -> syn::Result<TokenStream> {
    let mut given: Option<Expr> = None;
    let mut inline_keys: Vec<Ident> = Vec::new();
    let mut max_attempts = quote!(3u32);
    let mut strategy = format_ident!("exponential");
    let mut initial = DurationArg::Literal(100_000_000);
    let mut max_delay: Option<DurationArg> = None;
    let mut max_elapsed: Option<DurationArg> = None;
    let mut setters = Vec::new();
    for pair in args.pairs {
        let key = pair.key.to_string();
        let value = pair.value;
        match key.as_str() {
            "policy" => {
                given = Some(value);
                continue;
            }
            "max_attempts" => {
                if let Expr::Lit(ExprLit {
                    lit: Lit::Int(int), ..
                }) = &value
                    && int.base10_parse::<u32>()? == 0
                {
                    return Err(syn::Error::new(
                        int.span(),
                        "`max_attempts = 0` would never call the function; use at least 1 (1 means no retries)",
                    ));
                }
                max_attempts = quote_spanned!(value.span()=> #value);
            }
            "backoff" => strategy = named(&key, &value, STRATEGIES)?,
            "initial" => initial = DurationArg::parse(&key, &value)?,
            "max_delay" => max_delay = Some(DurationArg::parse(&key, &value)?),
            "max_elapsed" => {
                let duration = DurationArg::parse(&key, &value)?;
                let tokens = duration.to_tokens();
                setters.push(quote!(.max_elapsed(#tokens)));
                max_elapsed = Some(duration);
            }
            "jitter" => {
                let variant = named(&key, &value, JITTERS)?;
                setters.push(quote!(.jitter(::uno::retry::Jitter::#variant)));
            }
            "retry_if" => setters.push(quote_spanned!(value.span()=> .retry_if(#value))),
            _ => return Err(unknown_key(&pair.key, "retry", KEYS)),
        }
        inline_keys.push(pair.key);
    }
    if let Some(policy) = given {
        if let Some(key) = inline_keys.first() {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "`{key}` cannot be combined with `policy = ..`; set it on the policy, or drop `policy` and use the inline keys"
                ),
            ));
        }
        return Ok(quote_spanned! {policy.span()=> #policy });
    }
    if let (Some(initial), Some(max_delay)) = (
        initial.nanos(),
        max_delay.as_ref().and_then(DurationArg::nanos),
    ) && max_delay < initial
    {
        return Err(syn::Error::new(
            Span::call_site(),
            "`max_delay` is below `initial`; raise `max_delay` or lower `initial`",
        ));
    }
    if max_elapsed.as_ref().and_then(DurationArg::nanos) == Some(0) {
        return Err(syn::Error::new(
            Span::call_site(),
            "`max_elapsed = 0` would never retry; use a positive duration",
        ));
    }
    let initial = initial.to_tokens();
    if let Some(max_delay) = max_delay {
        let tokens = max_delay.to_tokens();
        setters.push(quote!(.max_delay(#tokens)));
    }
    Ok(quote! {
        ::uno::retry::RetryPolicy::#strategy(#initial)
            .max_attempts(#max_attempts)
            #(#setters)*
            .build()
            .expect("#[uno::retry]: the inline keys describe no valid policy; see RetryPolicyBuilder::build for the rule it breaks")
    })
}

/// Reads `value` as one of the bare words in `choices`, returning what it maps to.
fn named(key: &str, value: &Expr, choices: &[(&str, &str)]) -> syn::Result<Ident> {
    let word = match value {
        Expr::Path(path) => path.path.get_ident().map(Ident::to_string),
        _ => None,
    };
    match choices
        .iter()
        .find(|(name, _)| Some(*name) == word.as_deref())
    {
        Some((_, target)) => Ok(Ident::new(target, value.span())),
        None => {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            Err(syn::Error::new(
                value.span(),
                format!("unknown `{key}`; use one of: {}", names.join(", ")),
            ))
        }
    }
}

/// The statements that give one attempt its own copy of every argument.
///
/// The outer signature loses any `mut` on an argument (the original is only cloned
/// from); each attempt's copy gets it back.
fn attempt_arguments(function: &mut ItemFn) -> syn::Result<Vec<TokenStream>> {
    let mut statements = Vec::new();
    for argument in &mut function.sig.inputs {
        match argument {
            FnArg::Receiver(receiver) => {
                if receiver.reference.is_none() || receiver.mutability.is_some() {
                    return Err(syn::Error::new_spanned(
                        receiver,
                        "#[uno::retry] runs the body once per attempt, so it supports `&self` methods only; take `&self`",
                    ));
                }
            }
            FnArg::Typed(typed) => {
                let Pat::Ident(PatIdent {
                    ident,
                    by_ref: None,
                    subpat: None,
                    mutability,
                    ..
                }) = &mut *typed.pat
                else {
                    return Err(syn::Error::new_spanned(
                        &typed.pat,
                        "#[uno::retry] needs a plain name for each argument; destructure inside the body",
                    ));
                };
                let mutability = mutability.take();
                match &*typed.ty {
                    Type::Reference(reference) if reference.mutability.is_some() => {
                        return Err(syn::Error::new_spanned(
                            &typed.ty,
                            "#[uno::retry] cannot hand a `&mut` argument to more than one attempt; take it by `&` or as an owned `Clone` value",
                        ));
                    }
                    Type::Reference(_) => statements.push(quote!(let #mutability #ident = #ident;)),
                    ty => statements.push(quote_spanned! {ty.span()=>
                        let #mutability #ident = ::core::clone::Clone::clone(&#ident);
                    }),
                }
            }
        }
    }
    Ok(statements)
}
