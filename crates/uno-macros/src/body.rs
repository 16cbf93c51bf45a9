//! The function body as an `async move` block whose output type is pinned to the
//! function's return type, so that `?` and `return` inside it mean what they meant in
//! the function.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Block, ReturnType, Signature};

/// `async move { let __uno_output: RET = BODY; __uno_output }`, or without the type when
/// the return type cannot be written in a `let` (`impl Trait`).
pub(crate) fn wrap_body(sig: &Signature, block: &Block) -> TokenStream {
    match return_type(sig) {
        Some(output) => quote! {
            async move {
                let __uno_output: #output = #block;
                __uno_output
            }
        },
        None => quote! { async move #block },
    }
}

/// The return type as written, `()` for none, or `None` for a type containing `impl`.
pub(crate) fn return_type(sig: &Signature) -> Option<TokenStream> {
    match &sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) => {
            let tokens = ty.to_token_stream();
            if contains_ident(tokens.clone(), "impl") {
                return None;
            }
            Some(tokens)
        }
    }
}

/// Whether `tokens` contain the identifier or keyword `name` at any depth.
pub(crate) fn contains_ident(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == name,
        proc_macro2::TokenTree::Group(group) => contains_ident(group.stream(), name),
        _ => false,
    })
}
