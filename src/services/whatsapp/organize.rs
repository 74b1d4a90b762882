//! Organizing conversations: assignment (manual and round-robin), state and snooze, tags, private notes, read and unread, and the workspace's inbox settings.

use super::Shared;

pub struct OrganizeService {
    shared: Shared,
}

impl OrganizeService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}
