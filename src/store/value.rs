//! Parameters and result rows in one representation for both backends.

use super::StoreError;

/// A bound parameter or a column value. Nulls carry their type so Postgres can infer the parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    NullInt,
    NullText,
    NullBlob,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Self::NullInt, Self::Int)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Self::NullText, Self::Text)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Self::NullText, Self::from)
    }
}

impl Value {
    fn is_null(&self) -> bool {
        matches!(self, Self::NullInt | Self::NullText | Self::NullBlob)
    }
}

/// One result row, its columns in select order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    fn column(&self, index: usize) -> Result<&Value, StoreError> {
        self.0.get(index).ok_or_else(|| StoreError::Decode { column: index, detail: "no such column".into() })
    }

    fn mismatch(index: usize, want: &str, got: &Value) -> StoreError {
        StoreError::Decode { column: index, detail: format!("expected {want}, found {got:?}") }
    }

    /// A non-null integer.
    pub fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?.ok_or_else(|| Self::mismatch(index, "an integer", &Value::NullInt))
    }

    /// An integer or null.
    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self.column(index)? {
            Value::Int(v) => Ok(Some(*v)),
            v if v.is_null() => Ok(None),
            other => Err(Self::mismatch(index, "an integer", other)),
        }
    }

    /// A 0/1 flag.
    pub fn flag(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.int(index)? != 0)
    }

    /// Non-null text.
    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        self.opt_text(index)?.ok_or_else(|| Self::mismatch(index, "text", &Value::NullText))
    }

    /// Text or null.
    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.column(index)? {
            Value::Text(v) => Ok(Some(v.clone())),
            v if v.is_null() => Ok(None),
            other => Err(Self::mismatch(index, "text", other)),
        }
    }

    /// Bytes or null.
    pub fn opt_blob(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.column(index)? {
            Value::Blob(v) => Ok(Some(v.clone())),
            v if v.is_null() => Ok(None),
            other => Err(Self::mismatch(index, "bytes", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_check_kinds() {
        let row = Row(vec![Value::Int(7), Value::Text("a".into()), Value::NullText]);
        assert_eq!(row.int(0).unwrap(), 7);
        assert_eq!(row.text(1).unwrap(), "a");
        assert_eq!(row.opt_text(2).unwrap(), None);
        assert!(row.text(2).is_err());
        assert!(row.int(1).is_err());
        assert!(row.int(9).is_err());
    }
}
