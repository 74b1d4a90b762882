//! Live inbox updates: the change stream (SSE) with catch-up, and who is viewing or typing in a conversation.

use super::Shared;

pub struct LiveService {
    shared: Shared,
}

impl LiveService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}
