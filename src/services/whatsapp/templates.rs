//! The workspace's WhatsApp message templates: synced from the provider or entered by hand, offered by the composer's picker.

use super::Shared;

pub struct TemplateService {
    shared: Shared,
}

impl TemplateService {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}
