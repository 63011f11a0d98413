//! JSON parsing that refuses an object with the same key twice.
//!
//! RFC 8259 §4 leaves duplicate names to the parser ("SHOULD be unique"); serde_json keeps
//! the last one, so `{"auth_code":"a","auth_code":"b"}` would mean `b` here and possibly `a`
//! to a proxy or WAF in front of the service. A token service refuses the ambiguity instead:
//! the body is `body_malformed` (documented in the error catalogue's "not valid JSON").
//!
//! Only the visitor differs from `serde_json::Value`'s: serde_json's recursion limit (128
//! levels) still applies, so deep nesting is an error, not a stack overflow.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value with no duplicate key in any of its objects.
pub struct UniqueKeys(pub Value);

/// Parses `bytes` as JSON, failing on syntax, on nesting deeper than 128, and on any object
/// that repeats a key (the error names the key and its position).
pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice::<UniqueKeys>(bytes).map(|v| v.0)
}

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_parse_as_serde_json_parses_them() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x\u0000y"],"b":{"c":{}},"d":18446744073709551615}"#;
        assert_eq!(
            from_slice(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        let err = from_slice(br#"{"auth_code":"a","auth_code":"b"}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("duplicate key `auth_code`"),
            "{err}"
        );
        assert!(from_slice(br#"{"x":[{"k":1,"k":1}]}"#).is_err());
        // The same key in sibling objects is not a repeat.
        assert_eq!(
            from_slice(br#"[{"k":1},{"k":2}]"#).unwrap(),
            json!([{"k":1},{"k":2}])
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(from_slice(deep.as_bytes()).is_err());
        let deep = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        assert!(from_slice(deep.as_bytes()).is_ok());
    }
}
