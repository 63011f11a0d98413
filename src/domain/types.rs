//! Wire input parsed into domain types at the border (parse, don't validate): past
//! `TryFrom`, a value of these types is known to satisfy its SPEC rule.

use std::fmt;
use validator::{ValidateLength, ValidateUrl};

/// Why a body field was refused; the edge turns it into `parameter_invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue(pub String);

/// 1–128 visible ASCII characters (0x21–0x7E): `fi_reference_id`, `x-request-id` (SPEC §3).
pub fn is_visible_ascii_token(value: &str) -> bool {
    value.len() <= 128 && is_visible_ascii(value)
}

/// Non-empty and only visible ASCII characters (0x21–0x7E).
pub fn is_visible_ascii(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The FI's regulator reference, eIDAS style (`PSDGB-FCA-111111`), SPEC §3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FiReferenceId(String);

impl TryFrom<&str> for FiReferenceId {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if is_visible_ascii_token(value) {
            Ok(FiReferenceId(value.to_owned()))
        } else {
            Err(InvalidValue(
                "must be 1-128 visible ASCII characters".into(),
            ))
        }
    }
}

impl FiReferenceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FiReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One OBIE permission a token may carry (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScopeItem {
    Accounts,
    Payments,
    FundsConfirmations,
}

impl ScopeItem {
    const ALL: [ScopeItem; 3] = [
        ScopeItem::Accounts,
        ScopeItem::Payments,
        ScopeItem::FundsConfirmations,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ScopeItem::Accounts => "accounts",
            ScopeItem::Payments => "payments",
            ScopeItem::FundsConfirmations => "fundsconfirmations",
        }
    }
}

/// A non-empty set of scope items, written space-separated in canonical order
/// (RFC 6749 §3.3: the order of scope tokens does not matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<ScopeItem>);

impl Scope {
    pub fn accounts() -> Self {
        Scope(vec![ScopeItem::Accounts])
    }

    /// True when every item of `self` is in `other`.
    pub fn is_within(&self, other: &Scope) -> bool {
        self.0.iter().all(|item| other.0.contains(item))
    }
}

impl TryFrom<&str> for Scope {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let mut items = Vec::new();
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            let item = ScopeItem::ALL
                .into_iter()
                .find(|i| i.as_str() == word)
                .ok_or_else(|| {
                    InvalidValue(format!(
                        "has unknown scope '{}'; use accounts, payments, fundsconfirmations",
                        truncate(word, 32)
                    ))
                })?;
            if !items.contains(&item) {
                items.push(item);
            }
        }
        if items.is_empty() {
            return Err(InvalidValue("must name at least one scope".into()));
        }
        items.sort();
        Ok(Scope(items))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|i| i.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// An absolute URL, kept byte for byte as the caller wrote it: redirect URIs are
/// compared exactly (RFC 6749 §3.1.2, §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

pub const MAX_URI_LEN: u64 = 2048;

impl TryFrom<&str> for RedirectUri {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if !value.validate_length(Some(1), Some(MAX_URI_LEN), None) {
            return Err(InvalidValue(format!("must be 1-{MAX_URI_LEN} characters")));
        }
        if !value.validate_url() {
            return Err(InvalidValue("must be an absolute URL".into()));
        }
        Ok(RedirectUri(value.to_owned()))
    }
}

impl RedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `redirect_uri` with `code` (and `state`) appended as form-urlencoded query
    /// parameters, any existing query kept (RFC 6749 §4.1.2).
    pub fn with_code(&self, code: &str, state: Option<&State>) -> String {
        let mut url = url::Url::parse(&self.0).expect("checked absolute URL at parse time");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", code);
            if let Some(state) = state {
                query.append_pair("state", state.as_str());
            }
        }
        url.into()
    }
}

/// The PSP's opaque CSRF value, echoed back unchanged; at most 512 characters (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State(String);

pub const MAX_STATE_CHARS: u64 = 512;

impl TryFrom<&str> for State {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if value.validate_length(Some(1), Some(MAX_STATE_CHARS), None) {
            Ok(State(value.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "must be 1-{MAX_STATE_CHARS} characters"
            )))
        }
    }
}

impl State {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A non-empty identifier of at most 256 characters (auth codes, tokens, consent ids…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

pub const MAX_IDENTIFIER_CHARS: u64 = 256;

impl TryFrom<&str> for Identifier {
    type Error = InvalidValue;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if value.validate_length(Some(1), Some(MAX_IDENTIFIER_CHARS), None) {
            Ok(Identifier(value.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "must be 1-{MAX_IDENTIFIER_CHARS} characters"
            )))
        }
    }
}

impl Identifier {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fi_reference_id_takes_visible_ascii_up_to_128() {
        assert!(FiReferenceId::try_from("PSDGB-FCA-111111").is_ok());
        assert!(FiReferenceId::try_from("").is_err());
        assert!(FiReferenceId::try_from("has space").is_err());
        assert!(FiReferenceId::try_from("caf\u{e9}").is_err());
        assert!(FiReferenceId::try_from("a".repeat(128).as_str()).is_ok());
        assert!(FiReferenceId::try_from("a".repeat(129).as_str()).is_err());
    }

    #[test]
    fn scope_is_canonical_deduplicated_and_closed() {
        let scope = Scope::try_from("payments  accounts payments").unwrap();
        assert_eq!(scope.to_string(), "accounts payments");
        assert!(Scope::try_from("").is_err());
        assert!(Scope::try_from("   ").is_err());
        assert!(Scope::try_from("accounts openid").is_err());
    }

    #[test]
    fn scope_within_is_a_subset_test() {
        let wide = Scope::try_from("accounts payments").unwrap();
        assert!(Scope::accounts().is_within(&wide));
        assert!(
            !Scope::try_from("fundsconfirmations")
                .unwrap()
                .is_within(&wide)
        );
    }

    #[test]
    fn redirect_uri_must_be_absolute_and_is_kept_verbatim() {
        assert!(RedirectUri::try_from("/relative").is_err());
        assert!(RedirectUri::try_from("").is_err());
        let uri = RedirectUri::try_from("https://www.google.com").unwrap();
        assert_eq!(uri.as_str(), "https://www.google.com");
    }

    #[test]
    fn redirect_to_appends_code_and_state_keeping_the_query() {
        let plain = RedirectUri::try_from("https://www.google.com").unwrap();
        let state = State::try_from("a b&c").unwrap();
        assert_eq!(
            plain.with_code("xyz", Some(&state)),
            "https://www.google.com/?code=xyz&state=a+b%26c"
        );
        let with_query = RedirectUri::try_from("https://psp.example/cb?x=1").unwrap();
        assert_eq!(
            with_query.with_code("xyz", None),
            "https://psp.example/cb?x=1&code=xyz"
        );
    }

    #[test]
    fn state_counts_characters_not_bytes() {
        assert!(State::try_from("\u{e9}".repeat(512).as_str()).is_ok());
        assert!(State::try_from("a".repeat(513).as_str()).is_err());
        assert!(State::try_from("").is_err());
    }
}
