//! The export's line format: the header object and the JSON form of each value, both ways.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value as Json;

use super::table::Kind;
use crate::store::{Row, Value};

/// The first line of every table file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Header {
    pub(super) table: String,
    pub(super) columns: Vec<String>,
}

/// A row as the JSON array written on its line.
pub(super) fn encode_row(row: &Row) -> Json {
    Json::Array(row.0.iter().map(encode).collect())
}

fn encode(value: &Value) -> Json {
    match value {
        Value::Int(v) => Json::from(*v),
        Value::Text(v) => Json::String(v.clone()),
        Value::Blob(v) => serde_json::json!({ "base64": STANDARD.encode(v) }),
        Value::NullInt | Value::NullText | Value::NullBlob => Json::Null,
    }
}

/// One JSON value read back into a parameter for a column of `kind`; the error says what was wrong.
pub(super) fn decode(json: Json, kind: Kind) -> Result<Value, String> {
    match (json, kind) {
        (Json::Null, kind) => Ok(kind.null()),
        (Json::Number(n), Kind::Int) => {
            n.as_i64().map(Value::Int).ok_or_else(|| format!("{n} is not a 64-bit integer"))
        }
        (Json::String(s), Kind::Text) => Ok(Value::Text(s)),
        (Json::Object(mut object), Kind::Blob) if object.len() == 1 => match object.remove("base64") {
            Some(Json::String(encoded)) => {
                STANDARD.decode(encoded).map(Value::Blob).map_err(|e| format!("bad base64 bytes: {e}"))
            }
            _ => Err("bytes must be written as {\"base64\": \"...\"}".to_owned()),
        },
        (other, kind) => Err(format!("{other} does not fit a column of {kind:?} values")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_nulls_take_the_column_kind() {
        let row = Row(vec![
            Value::Int(i64::MIN),
            Value::Text("مرحبا \"x\"\n".into()),
            Value::Blob(vec![0, 255, 10]),
            Value::NullText,
        ]);
        let line = encode_row(&row).to_string();
        let Json::Array(values) = serde_json::from_str::<Json>(&line).unwrap() else { panic!("not an array") };
        let kinds = [Kind::Int, Kind::Text, Kind::Blob, Kind::Int];
        let back: Vec<Value> = values.into_iter().zip(kinds).map(|(j, k)| decode(j, k).unwrap()).collect();
        assert_eq!(back, vec![row.0[0].clone(), row.0[1].clone(), row.0[2].clone(), Value::NullInt]);
    }

    #[test]
    fn values_that_do_not_fit_the_column_are_refused() {
        assert!(decode(Json::from("7"), Kind::Int).is_err());
        assert!(decode(Json::from(1.5), Kind::Int).is_err());
        assert!(decode(Json::from(7), Kind::Text).is_err());
        assert!(decode(serde_json::json!({"base64": "!!"}), Kind::Blob).is_err());
        assert!(decode(serde_json::json!({"hex": "00"}), Kind::Blob).is_err());
    }
}
