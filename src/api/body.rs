//! JSON request bodies (SPEC §3): `Content-Type` (415), then JSON syntax and shape
//! (`body_malformed`), then every field problem of the body in one 400. Fields parse
//! straight into domain types, so a decoded body is a valid one.

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};

use super::errors::{ApiError, ErrorCode, Problem};
use crate::domain::types::InvalidValue;

/// The largest body accepted; larger ones get 413 as they are read (SPEC §3).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request body read but not yet judged: judging waits until the caller is
/// authenticated, so an unauthenticated caller learns nothing about its body (SPEC §3).
pub struct JsonBody {
    is_json: bool,
    bytes: Bytes,
}

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json_content_type(req);
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            Ok(JsonBody {
                is_json,
                bytes: bytes.await?,
            })
        })
    }
}

/// `application/json`, with any parameters (`charset=utf-8`), compared case-insensitively.
fn is_json_content_type(req: &HttpRequest) -> bool {
    let mut values = req.headers().get_all(CONTENT_TYPE);
    match (values.next().map(|v| v.to_str()), values.next()) {
        (Some(Ok(value)), None) => {
            let essence = value.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        }
        _ => false,
    }
}

/// A request body type: reads its fields, each parsed into its domain type.
pub trait WireBody: Sized {
    /// Returns `None` when a field had a problem (recorded in `fields`).
    fn read(fields: &mut Fields<'_>) -> Option<Self>;
}

impl JsonBody {
    pub fn decode<T: WireBody>(&self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::one(ErrorCode::ContentTypeUnsupported));
        }
        let value: Value = serde_json::from_slice(&self.bytes).map_err(|e| {
            ApiError::one(Problem::new(
                ErrorCode::BodyMalformed,
                format!("The request body is not valid JSON: {e}."),
            ))
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::one(Problem::new(
                ErrorCode::BodyMalformed,
                "The request body must be a JSON object.",
            )));
        };
        let mut fields = Fields {
            map: &map,
            problems: Vec::new(),
        };
        let decoded = T::read(&mut fields);
        match decoded {
            Some(body) if fields.problems.is_empty() => Ok(body),
            _ => Err(ApiError::many(fields.problems)),
        }
    }
}

/// The fields of one JSON object and the problems found in them so far.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    problems: Vec<Problem>,
}

impl<'a> Fields<'a> {
    /// A field that must be present: absent or `null` is `parameter_missing`.
    pub fn required<T>(&mut self, name: &str) -> Option<T>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        match self.map.get(name) {
            None | Some(Value::Null) => {
                self.problems.push(Problem::new(
                    ErrorCode::ParameterMissing,
                    format!("The body field {name} is missing."),
                ));
                None
            }
            Some(value) => self.parse(name, value),
        }
    }

    /// A field that may be absent; `null` counts as absent.
    pub fn optional<T>(&mut self, name: &str) -> Option<Option<T>>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        match self.map.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.parse(name, value).map(Some),
        }
    }

    /// Records a problem found by the body type itself.
    pub fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn parse<T>(&mut self, name: &str, value: &Value) -> Option<T>
    where
        T: for<'s> TryFrom<&'s str, Error = InvalidValue>,
    {
        let Value::String(text) = value else {
            self.problems.push(Problem::new(
                ErrorCode::ParameterInvalid,
                format!("The body field {name} must be a string."),
            ));
            return None;
        };
        match T::try_from(text.as_str()) {
            Ok(parsed) => Some(parsed),
            Err(InvalidValue(why)) => {
                self.problems.push(Problem::new(
                    ErrorCode::ParameterInvalid,
                    format!("The body field {name} {why}."),
                ));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::{Identifier, State};

    struct Sample {
        _a: Identifier,
        _b: Option<State>,
        _c: Identifier,
    }

    impl WireBody for Sample {
        fn read(f: &mut Fields<'_>) -> Option<Self> {
            let (a, b, c) = (f.required("a"), f.optional("b"), f.required("c"));
            Some(Sample {
                _a: a?,
                _b: b?,
                _c: c?,
            })
        }
    }

    fn decode(json: &str, is_json: bool) -> Result<Sample, Vec<&'static str>> {
        let body = JsonBody {
            is_json,
            bytes: Bytes::copy_from_slice(json.as_bytes()),
        };
        body.decode::<Sample>()
            .map_err(|e| e.problems.iter().map(|p| p.code.as_str()).collect())
    }

    #[test]
    fn a_complete_body_decodes() {
        assert!(decode(r#"{"a":"x","c":"y","unknown":1}"#, true).is_ok());
    }

    #[test]
    fn content_type_is_judged_before_the_json() {
        assert_eq!(
            decode("not json", false).err().unwrap(),
            ["content_type_unsupported"]
        );
    }

    #[test]
    fn malformed_json_and_non_objects_are_body_malformed() {
        assert_eq!(decode("{", true).err().unwrap(), ["body_malformed"]);
        assert_eq!(decode("[1]", true).err().unwrap(), ["body_malformed"]);
        assert_eq!(decode("", true).err().unwrap(), ["body_malformed"]);
    }

    #[test]
    fn every_field_problem_is_reported_in_one_answer() {
        let codes = decode(r#"{"a":"","b":7}"#, true).err().unwrap();
        assert_eq!(
            codes,
            [
                "parameter_invalid",
                "parameter_invalid",
                "parameter_missing"
            ]
        );
        assert_eq!(
            decode(r#"{"a":null,"c":"y"}"#, true).err().unwrap(),
            ["parameter_missing"]
        );
    }
}
