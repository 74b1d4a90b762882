//! Contacts as the inbox shows and edits them: details, custom fields, tags and the contact's other conversations.

use super::Shared;

pub struct ContactService {
    shared: Shared,
}

impl ContactService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}
