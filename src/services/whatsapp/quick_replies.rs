//! Quick replies: canned answers typed as `/shortcut`, workspace-wide or personal, with placeholders filled from the conversation.

use super::Shared;

pub struct QuickReplyService {
    shared: Shared,
}

impl QuickReplyService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}
