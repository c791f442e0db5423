//! Where the page keeps its token: the tab's `sessionStorage` (it survives
//! a reload, not the tab, and never appears in a URL), and the cookie the
//! server reads a private stream's token from. Browser only; on the server
//! these do nothing (they are only ever called from effects and handlers).

pub(crate) use imp::{load, save, write_cookie};

#[cfg(feature = "hydrate")]
mod imp {
    use crate::model::{token_cookie, BearerToken, TOKEN_STORAGE_KEY};
    use wasm_bindgen::JsCast;

    /// The token kept for this tab, if any (and if storage is allowed at
    /// all: a sandboxed page may have none).
    pub(crate) fn load() -> Option<String> {
        session_storage()?
            .get_item(TOKEN_STORAGE_KEY)
            .ok()
            .flatten()
            .filter(|token| !token.is_empty())
    }

    /// Keeps `token` for this tab; a blank one removes what was kept.
    pub(crate) fn save(token: &str) {
        let Some(storage) = session_storage() else {
            return;
        };
        // Storage can be full or refused; the field still holds the token.
        let _ = if token.trim().is_empty() {
            storage.remove_item(TOKEN_STORAGE_KEY)
        } else {
            storage.set_item(TOKEN_STORAGE_KEY, token)
        };
    }

    /// Sets the token cookie to `token`, or clears it with `None`, so that
    /// streams opened from now on send it.
    pub(crate) fn write_cookie(token: Option<&BearerToken>) {
        let document = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.dyn_into::<web_sys::HtmlDocument>().ok());
        if let Some(document) = document {
            let _ = document.set_cookie(&token_cookie(token));
        }
    }

    /// The tab's `sessionStorage`, if the page may use it.
    fn session_storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok().flatten()
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    //! The server has no storage and no cookies to write.

    use crate::model::BearerToken;

    /// Nothing kept.
    pub(crate) fn load() -> Option<String> {
        None
    }

    /// Nowhere to keep it.
    pub(crate) fn save(_: &str) {}

    /// No cookie to write.
    pub(crate) fn write_cookie(_: Option<&BearerToken>) {}
}
