//! `#[uno::main]`: a tokio `main` that installs a `Shutdown` and exits through its
//! report.
//!
//! The user's `async fn main` (optionally taking `&Shutdown`) becomes an inner
//! function; the generated `fn main` builds the runtime, installs the shutdown on
//! SIGINT and SIGTERM, runs the inner function, then `Shutdown::run` to its end, and
//! calls `std::process::exit(report.exit_code())` after the runtime is dropped.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit};

use crate::args::{Arguments, not_async, unknown_key};

const KEYS: &[&str] = &["flavor", "worker_threads"];

pub(crate) fn expand(args: Arguments, function: ItemFn) -> syn::Result<TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(not_async(function.sig.fn_token.span(), "main"));
    }
    if let Some(positional) = &args.positional {
        return Err(syn::Error::new_spanned(
            positional,
            "#[uno::main] takes `key = value` arguments: `flavor = \"current_thread\"` or `worker_threads = N`",
        ));
    }
    if function.sig.inputs.len() > 1 || !function.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &function.sig.inputs,
            "#[uno::main] takes a `main` with no arguments or one `&uno::signal::Shutdown`",
        ));
    }
    let mut multi_thread = true;
    let mut worker_threads: Option<Expr> = None;
    for pair in args.pairs {
        match pair.key.to_string().as_str() {
            "flavor" => {
                let flavor = match &pair.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(flavor),
                        ..
                    }) => flavor.value(),
                    _ => String::new(),
                };
                multi_thread = match flavor.as_str() {
                    "multi_thread" => true,
                    "current_thread" => false,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &pair.value,
                            "unknown `flavor`; write `flavor = \"multi_thread\"` or `flavor = \"current_thread\"`",
                        ));
                    }
                };
            }
            "worker_threads" => worker_threads = Some(pair.value),
            _ => return Err(unknown_key(&pair.key, "main", KEYS)),
        }
    }
    let builder = match (multi_thread, worker_threads) {
        (true, None) => quote!(::tokio::runtime::Builder::new_multi_thread()),
        (true, Some(threads)) => {
            quote!(::tokio::runtime::Builder::new_multi_thread().worker_threads(#threads))
        }
        (false, None) => quote!(::tokio::runtime::Builder::new_current_thread()),
        (false, Some(threads)) => {
            return Err(syn::Error::new_spanned(
                threads,
                "`worker_threads` needs the multi-thread runtime; remove it or drop `flavor = \"current_thread\"`",
            ));
        }
    };

    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    let name = sig.ident.clone();
    let inner = format_ident!("__uno_main");
    sig.ident = inner.clone();
    let call = if sig.inputs.is_empty() {
        quote!(#inner())
    } else {
        quote!(#inner(&__uno_shutdown))
    };
    Ok(quote! {
        #(#attrs)*
        #vis fn #name() {
            #sig #block

            let __uno_runtime = #builder
                .enable_all()
                .build()
                .expect("#[uno::main]: the tokio runtime could not start");
            let __uno_code: i32 = __uno_runtime.block_on(async {
                let __uno_shutdown = match ::uno::signal::Shutdown::install([
                    ::uno::signal::Signal::Interrupt,
                    ::uno::signal::Signal::Terminate,
                ]) {
                    ::core::result::Result::Ok(shutdown) => shutdown,
                    ::core::result::Result::Err(error) => {
                        ::std::eprintln!("error: could not install the shutdown signal handlers: {error}");
                        return 1;
                    }
                };
                let __uno_failed = match ::uno::signal::Outcome::into_result(#call.await) {
                    ::core::result::Result::Ok(()) => false,
                    ::core::result::Result::Err(error) => {
                        ::std::eprintln!("error: {error}");
                        __uno_shutdown.trigger();
                        true
                    }
                };
                let report = __uno_shutdown.run().await;
                if !report.is_clean() {
                    ::std::eprintln!("{report}");
                }
                match (__uno_failed, report.exit_code()) {
                    (true, 0) => 1,
                    (_, code) => code,
                }
            });
            // Dropping the runtime first ends what is left of its tasks; exit skips
            // destructors, so nothing may be pending past this point.
            ::core::mem::drop(__uno_runtime);
            ::std::process::exit(__uno_code);
        }
    })
}
