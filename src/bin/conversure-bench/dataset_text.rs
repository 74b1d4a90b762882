//! What the dataset generator says: a seeded random number generator, contact names in several scripts, E.164
//! phones, and message bodies drawn from a vocabulary with a Zipf distribution (so "common" and "rare" search
//! terms exist and are known).
//!
//! The generator is its own SplitMix64 rather than a crate's: its output is fixed by this file alone, so a seed
//! means the same dataset on every machine and every dependency update.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// An independent stream for item `index` of a `domain` (for example message 1234's body), so an item's
    /// content does not depend on the order items are generated in.
    pub fn derive(seed: u64, domain: u64, index: u64) -> Self {
        let mut rng = Self(seed ^ domain.wrapping_mul(0xA076_1D64_78BD_642F));
        let mix = rng.next_u64().wrapping_add(index.wrapping_mul(0xE703_7ED1_A0B4_28DB));
        rng.0 ^= mix;
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [low, high].
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1).max(1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// First and last names by script, so lists and searches meet Latin, Arabic, Cyrillic, Devanagari and Han text.
const NAMES: &[(&[&str], &[&str])] = &[
    (
        &["James", "Maria", "Ahmed", "Sofia", "Lucas", "Emma", "Noah", "Olivia", "Mateo", "Camila", "Liam", "Ana"],
        &["Smith", "Garcia", "Silva", "Johnson", "Martins", "Brown", "Lopez", "Dubois", "Rossi", "Costa", "Miller"],
    ),
    (
        &["محمد", "فاطمة", "أحمد", "عائشة", "علي", "مريم", "عمر", "نور", "يوسف", "سارة", "خالد", "ليلى"],
        &["الحسن", "العلي", "المنصور", "الشامي", "حداد", "الخطيب", "النجار", "السعيد", "القاسم", "الأحمد"],
    ),
    (&["Иван", "Ольга", "Дмитрий", "Анна", "Сергей", "Мария"], &["Иванов", "Петрова", "Смирнов", "Кузнецова"]),
    (&["अमित", "प्रिया", "राहुल", "अनीता", "विकास"], &["शर्मा", "वर्मा", "गुप्ता", "सिंह"]),
    (&["伟", "芳", "娜", "敏", "静"], &["王", "李", "张", "刘", "陈"]),
];

/// How often each script's names occur (per mille), in [`NAMES`] order.
const SCRIPT_WEIGHTS: [u64; 5] = [560, 300, 60, 50, 30];

/// Country calling codes and national-number lengths the phones spread over.
const COUNTRIES: &[(&str, u32)] =
    &[("1", 10), ("44", 10), ("971", 9), ("966", 9), ("20", 10), ("55", 11), ("91", 10), ("49", 11), ("7", 10)];

/// A contact's name: first and last name of one script (Han names are written family name first, unspaced).
pub fn name(rng: &mut Rng) -> String {
    let mut roll = rng.below(SCRIPT_WEIGHTS.iter().sum());
    let mut script = 0;
    while roll >= SCRIPT_WEIGHTS[script] {
        roll -= SCRIPT_WEIGHTS[script];
        script += 1;
    }
    let (first, last) = NAMES[script];
    let (first, last) = (rng.pick(first), rng.pick(last));
    if script == NAMES.len() - 1 { format!("{last}{first}") } else { format!("{first} {last}") }
}

/// The E.164 phone of contact `index` of a workspace: distinct for every index (within a country, `n * 48271 + salt`
/// modulo 10^7 is a bijection since 48,271 is prime to 10), spread over several countries.
pub fn phone(index: u64, salt: u64) -> String {
    let (code, digits) = COUNTRIES[(index % COUNTRIES.len() as u64) as usize];
    let n = index / COUNTRIES.len() as u64;
    let local = (n * 48_271 + salt) % 10_000_000;
    let lead = 2 + n % 7;
    format!("+{code}{lead}{local:0width$}", width = (digits - 1) as usize)
}

/// Words of real conversations first (the most frequent ranks), then made-up words for the long tail.
const COMMON_WORDS: &[&str] = &[
    "the",
    "order",
    "hi",
    "please",
    "thanks",
    "is",
    "my",
    "you",
    "to",
    "and",
    "delivery",
    "شكرا",
    "a",
    "when",
    "can",
    "it",
    "for",
    "payment",
    "مرحبا",
    "of",
    "we",
    "will",
    "today",
    "your",
    "price",
    "طلب",
    "have",
    "tracking",
    "not",
    "yes",
    "help",
    "invoice",
    "no",
    "address",
    "refund",
    "send",
    "number",
    "tomorrow",
    "السلام",
    "size",
    "color",
    "available",
    "store",
    "hello",
    "ok",
    "مساء",
    "week",
    "call",
    "again",
    "time",
];

/// Syllables for the made-up tail words (all distinct from the real ones above).
const SYLLABLES: [&str; 16] =
    ["ka", "lo", "mi", "tu", "re", "ni", "so", "pa", "dv", "fe", "gu", "bo", "zi", "ru", "ve", "xa"];

/// A vocabulary of `size` words, most frequent first, with the Zipf cumulative weights to draw from it.
pub struct Vocabulary {
    pub words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    /// Zipf with exponent 1.05: a few words are in most messages, the last ranks in a handful.
    pub fn new(size: usize) -> Self {
        let mut words: Vec<String> = COMMON_WORDS.iter().map(|w| (*w).to_owned()).collect();
        let mut k = 0usize;
        while words.len() < size {
            // Three or four syllables spelled from k in base 16: unique, pronounceable, and not real words.
            let (mut rest, mut word) = (k, String::from(SYLLABLES[(k / 4096) % 16]));
            for _ in 0..3 {
                word.push_str(SYLLABLES[rest % 16]);
                rest /= 16;
            }
            words.push(word);
            k += 1;
        }
        words.truncate(size);
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(1.05);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    /// The rank (0 = most common) of one drawn word.
    pub fn draw(&self, rng: &mut Rng) -> usize {
        let target = rng.unit() * self.cumulative.last().copied().unwrap_or(0.0);
        self.cumulative.partition_point(|&c| c <= target).min(self.words.len() - 1)
    }

    /// A message body of 3 to 24 words; the ranks drawn are passed to `seen` (for the term statistics).
    pub fn body(&self, rng: &mut Rng, mut seen: impl FnMut(usize)) -> String {
        let count = 3 + rng.below(22) as usize;
        let mut body = String::with_capacity(count * 7);
        for i in 0..count {
            let rank = self.draw(rng);
            seen(rank);
            if i > 0 {
                body.push(' ');
            }
            body.push_str(&self.words[rank]);
        }
        body
    }
}
