//! Names people type: workspace slugs and email addresses, parsed once into types that are known to be valid.

use super::msg::Msg;

/// A workspace's URL-safe short name: 2–40 characters of `a-z`, `0-9` and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, Msg> {
        let value = value.trim().to_ascii_lowercase();
        let valid_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=40).contains(&value.len()) || !valid_chars || value.starts_with('-') || value.ends_with('-') {
            return Err(Msg::new("identity.slug_invalid"));
        }
        Ok(Self(value))
    }

    /// A slug suggested from a display name ("Acme Chat Ltd." → "acme-chat-ltd").
    pub fn suggest(name: &str) -> String {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        slug.trim_end_matches('-').chars().take(40).collect::<String>().trim_end_matches('-').to_owned()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address as typed (kept for display) and in the lower-cased form used to look it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub lookup: String,
}

impl Email {
    /// Accepts `local@domain.tld` without spaces; deliverability is proven by the invitation mail, not by a regex.
    pub fn parse(value: &str) -> Result<Self, Msg> {
        let value = value.trim();
        let Some((local, domain)) = value.rsplit_once('@') else { return Err(Msg::new("identity.email_invalid")) };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || value.len() > 254 || value.chars().any(char::is_whitespace) || !domain_ok {
            return Err(Msg::new("identity.email_invalid"));
        }
        Ok(Self { display: value.to_owned(), lookup: value.to_lowercase() })
    }
}

/// A person's or workspace's display name: 1–100 characters after trimming.
pub fn display_name(value: &str) -> Result<String, Msg> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 100 {
        return Err(Msg::new("identity.name_invalid"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(Slug::parse(" Acme-1 ").unwrap().as_str(), "acme-1");
        for bad in ["a", "-acme", "acme-", "ac me", "acmé", &"a".repeat(41)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Slug::suggest("Acme Chat Ltd."), "acme-chat-ltd");
        assert_eq!(Slug::suggest("  !!  "), "");
    }

    #[test]
    fn emails() {
        let email = Email::parse(" Jane.Doe@Acme.Example ").unwrap();
        assert_eq!(email.display, "Jane.Doe@Acme.Example");
        assert_eq!(email.lookup, "jane.doe@acme.example");
        for bad in ["jane", "jane@", "@acme.example", "jane@acme", "ja ne@acme.example", "jane@acme..example."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
