//! A digest per table that is equal on SQLite and Postgres for equal content, for checking a transfer.

use sha2::{Digest, Sha256};

use super::codec::EncodedRow;
use super::table::{Pages, Table};
use crate::store::{Db, StoreError, migrate};

pub(super) async fn run(db: &Db) -> Result<Vec<(String, u64, String)>, StoreError> {
    let mut conn = db.read_snapshot().await?;
    let version = migrate::version_on(&mut conn).await?;
    let mut out = Vec::new();
    for name in migrate::tables_at(db.backend(), version) {
        let table = Table::describe(&mut conn, &name).await?.canonical();
        let mut digest = RowSetDigest::default();
        let mut pages = Pages::new(&table);
        while let Some(page) = pages.next(&mut conn).await? {
            page.iter().for_each(|row| digest.add(&serde_json::to_vec(&EncodedRow(row)).unwrap_or_default()));
        }
        out.push((name, digest.rows, digest.finish(&table.column_names())));
    }
    conn.commit().await?;
    Ok(out)
}

/// A digest of a set of rows that does not depend on their order: the sum, modulo 2^256, of each row's sha256
/// (an additive multiset hash), finished with the columns and the count.
#[derive(Default)]
struct RowSetDigest {
    rows: u64,
    /// Most significant limb first.
    sum: [u64; 4],
}

impl RowSetDigest {
    fn add(&mut self, row: &[u8]) {
        let hash = Sha256::digest(row);
        let mut carry = false;
        for (limb, chunk) in self.sum.iter_mut().zip(hash.chunks_exact(8)).rev() {
            let mut bytes = [0_u8; 8];
            bytes.copy_from_slice(chunk);
            let (partial, overflow_a) = limb.overflowing_add(u64::from_be_bytes(bytes));
            let (total, overflow_b) = partial.overflowing_add(u64::from(carry));
            *limb = total;
            carry = overflow_a || overflow_b;
        }
        self.rows += 1;
    }

    fn finish(&self, columns: &[String]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(columns.join(",").as_bytes());
        hasher.update(self.rows.to_be_bytes());
        self.sum.iter().for_each(|limb| hasher.update(limb.to_be_bytes()));
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::RowSetDigest;

    fn digest_of(rows: &[&str]) -> String {
        let mut digest = RowSetDigest::default();
        rows.iter().for_each(|r| digest.add(r.as_bytes()));
        digest.finish(&["id".to_owned()])
    }

    #[test]
    fn order_does_not_matter_but_content_and_multiplicity_do() {
        assert_eq!(digest_of(&["[1]", "[2]", "[3]"]), digest_of(&["[3]", "[1]", "[2]"]));
        assert_ne!(digest_of(&["[1]", "[2]"]), digest_of(&["[1]", "[3]"]));
        assert_ne!(digest_of(&["[1]"]), digest_of(&["[1]", "[1]"]));
        assert_ne!(digest_of(&[]), digest_of(&["[1]"]));
    }
}
