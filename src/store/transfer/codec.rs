//! The export's line format: the header object and the JSON form of each value, both ways.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::table::Kind;
use crate::store::{Row, Value};

/// The first line of every table file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Header {
    pub(super) table: String,
    pub(super) columns: Vec<String>,
}

/// A row as the JSON array written on its line: integers, strings, `{"base64": …}` for bytes, `null`. Serialised
/// straight from the row, without building a JSON tree (a copy of every string) first: the export's hot loop.
pub(super) struct EncodedRow<'a>(pub(super) &'a Row);

impl Serialize for EncodedRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut values = serializer.serialize_seq(Some(self.0.0.len()))?;
        for value in &self.0.0 {
            values.serialize_element(&EncodedValue(value))?;
        }
        values.end()
    }
}

struct EncodedValue<'a>(&'a Value);

impl Serialize for EncodedValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Int(v) => serializer.serialize_i64(*v),
            Value::Text(v) => serializer.serialize_str(v),
            Value::Blob(v) => {
                let mut object = serializer.serialize_map(Some(1))?;
                object.serialize_entry("base64", &STANDARD.encode(v))?;
                object.end()
            }
            Value::NullInt | Value::NullText | Value::NullBlob => serializer.serialize_unit(),
        }
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
        let line = serde_json::to_string(&EncodedRow(&row)).unwrap();
        assert_eq!(line, r#"[-9223372036854775808,"مرحبا \"x\"\n",{"base64":"AP8K"},null]"#);
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
