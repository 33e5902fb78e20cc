//! Small JSON shapes miniserde does not provide: a value whose content is not needed, a
//! number that may arrive as a string, a string-or-array, and the key outline of an object.
//!
//! Written as miniserde visitors rather than by way of `miniserde::json::Value`: a `Value`
//! links a `BTreeMap<String, Value>` and its own parser paths (~25 KB of the WebAssembly
//! module, measured with twiggy), and none of these needs the content it would keep.

use miniserde::de::{Deserialize, Map, Seq, Visitor};
use miniserde::{make_place, Result};

make_place!(Place);

/// Any JSON value, content dropped: to check that text is JSON at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyJson;

/// An object or array whose entries are skipped; `value` is written to `out` when it ends.
struct Skip<'a, T: Copy> {
    out: &'a mut Option<T>,
    value: T,
}

impl<T: Copy> Seq for Skip<'_, T> {
    fn element(&mut self) -> Result<&mut dyn Visitor> {
        Ok(<dyn Visitor>::ignore())
    }
    fn finish(&mut self) -> Result<()> {
        *self.out = Some(self.value);
        Ok(())
    }
}

impl<T: Copy> Map for Skip<'_, T> {
    fn key(&mut self, _k: &str) -> Result<&mut dyn Visitor> {
        Ok(<dyn Visitor>::ignore())
    }
    fn finish(&mut self) -> Result<()> {
        *self.out = Some(self.value);
        Ok(())
    }
}

impl Visitor for Place<AnyJson> {
    fn null(&mut self) -> Result<()> {
        self.out = Some(AnyJson);
        Ok(())
    }
    fn boolean(&mut self, _: bool) -> Result<()> {
        self.null()
    }
    fn string(&mut self, _: &str) -> Result<()> {
        self.null()
    }
    fn negative(&mut self, _: i64) -> Result<()> {
        self.null()
    }
    fn nonnegative(&mut self, _: u64) -> Result<()> {
        self.null()
    }
    fn float(&mut self, _: f64) -> Result<()> {
        self.null()
    }
    fn seq(&mut self) -> Result<Box<dyn Seq + '_>> {
        Ok(Box::new(Skip {
            out: &mut self.out,
            value: AnyJson,
        }))
    }
    fn map(&mut self) -> Result<Box<dyn Map + '_>> {
        Ok(Box::new(Skip {
            out: &mut self.out,
            value: AnyJson,
        }))
    }
}

impl Deserialize for AnyJson {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

/// A non-negative integer sent as a number or as a string of digits: `expires_in` and
/// `issued_at` arrive as numbers from some providers and strings from others (Salesforce's
/// `issued_at`, Entra v1's `expires_in`). Anything else reads as `None`, not as an error,
/// so one odd field does not make a whole token response unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberOrString(pub Option<u64>);

impl Visitor for Place<NumberOrString> {
    fn null(&mut self) -> Result<()> {
        self.out = Some(NumberOrString(None));
        Ok(())
    }
    fn boolean(&mut self, _: bool) -> Result<()> {
        self.null()
    }
    fn negative(&mut self, _: i64) -> Result<()> {
        self.null()
    }
    fn nonnegative(&mut self, n: u64) -> Result<()> {
        self.out = Some(NumberOrString(Some(n)));
        Ok(())
    }
    fn float(&mut self, f: f64) -> Result<()> {
        let value = (f.is_finite() && f >= 0.0).then_some(f as u64);
        self.out = Some(NumberOrString(value));
        Ok(())
    }
    fn string(&mut self, s: &str) -> Result<()> {
        self.out = Some(NumberOrString(s.trim().parse().ok()));
        Ok(())
    }
    fn seq(&mut self) -> Result<Box<dyn Seq + '_>> {
        Ok(Box::new(Skip {
            out: &mut self.out,
            value: NumberOrString(None),
        }))
    }
    fn map(&mut self) -> Result<Box<dyn Map + '_>> {
        Ok(Box::new(Skip {
            out: &mut self.out,
            value: NumberOrString(None),
        }))
    }
}

impl Deserialize for NumberOrString {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

/// A string or an array of strings, as the JWT `aud` claim (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl Visitor for Place<OneOrMany> {
    fn string(&mut self, s: &str) -> Result<()> {
        self.out = Some(OneOrMany(vec![s.to_string()]));
        Ok(())
    }
    fn seq(&mut self) -> Result<Box<dyn Seq + '_>> {
        struct Strings<'a> {
            out: &'a mut Option<OneOrMany>,
            items: Vec<String>,
            next: Option<String>,
        }
        impl Seq for Strings<'_> {
            fn element(&mut self) -> Result<&mut dyn Visitor> {
                self.items.extend(self.next.take());
                Ok(Deserialize::begin(&mut self.next))
            }
            fn finish(&mut self) -> Result<()> {
                self.items.extend(self.next.take());
                *self.out = Some(OneOrMany(std::mem::take(&mut self.items)));
                Ok(())
            }
        }
        Ok(Box::new(Strings {
            out: &mut self.out,
            items: Vec::new(),
            next: None,
        }))
    }
}

impl Deserialize for OneOrMany {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

/// The keys of a JSON object, each with the keys of the object it holds (`None` when the
/// value is not an object). Values are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOutline(pub Vec<(String, Option<Vec<String>>)>);

impl KeyOutline {
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(key, _)| key.as_str())
    }

    /// The keys inside the object at `key`, when there is one.
    pub fn inner(&self, key: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, inner)| inner.as_deref())
    }
}

impl Visitor for Place<KeyOutline> {
    fn map(&mut self) -> Result<Box<dyn Map + '_>> {
        Ok(Box::new(Outline {
            out: &mut self.out,
            entries: Vec::new(),
            value: InnerKeys::default(),
        }))
    }
}

struct Outline<'a> {
    out: &'a mut Option<KeyOutline>,
    entries: Vec<(String, Option<Vec<String>>)>,
    /// Collects the keys of the value of the last key.
    value: InnerKeys,
}

impl Map for Outline<'_> {
    fn key(&mut self, k: &str) -> Result<&mut dyn Visitor> {
        self.flush();
        self.entries.push((k.to_string(), None));
        Ok(&mut self.value)
    }
    fn finish(&mut self) -> Result<()> {
        self.flush();
        *self.out = Some(KeyOutline(std::mem::take(&mut self.entries)));
        Ok(())
    }
}

impl Outline<'_> {
    fn flush(&mut self) {
        if let Some((_, inner)) = self.entries.last_mut() {
            *inner = std::mem::take(&mut self.value.keys);
        }
    }
}

#[derive(Default)]
struct InnerKeys {
    /// `Some` once the value turned out to be an object.
    keys: Option<Vec<String>>,
}

impl Visitor for InnerKeys {
    fn null(&mut self) -> Result<()> {
        Ok(())
    }
    fn boolean(&mut self, _: bool) -> Result<()> {
        Ok(())
    }
    fn string(&mut self, _: &str) -> Result<()> {
        Ok(())
    }
    fn negative(&mut self, _: i64) -> Result<()> {
        Ok(())
    }
    fn nonnegative(&mut self, _: u64) -> Result<()> {
        Ok(())
    }
    fn float(&mut self, _: f64) -> Result<()> {
        Ok(())
    }
    fn seq(&mut self) -> Result<Box<dyn Seq + '_>> {
        <dyn Visitor>::ignore().seq()
    }
    fn map(&mut self) -> Result<Box<dyn Map + '_>> {
        struct Keys<'a>(&'a mut Vec<String>);
        impl Map for Keys<'_> {
            fn key(&mut self, k: &str) -> Result<&mut dyn Visitor> {
                self.0.push(k.to_string());
                Ok(<dyn Visitor>::ignore())
            }
            fn finish(&mut self) -> Result<()> {
                Ok(())
            }
        }
        Ok(Box::new(Keys(self.keys.insert(Vec::new()))))
    }
}

impl Deserialize for KeyOutline {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniserde::json::from_str;

    #[test]
    fn any_json_accepts_every_value_and_refuses_what_is_not_json() {
        for ok in [
            "null",
            "1",
            "-2.5",
            "\"s\"",
            "[1,[2,{}]]",
            r#"{"a":{"b":[true]}}"#,
        ] {
            assert_eq!(from_str::<AnyJson>(ok).ok(), Some(AnyJson), "{ok}");
        }
        for bad in ["", "{", "[1,", "{\"a\"}", "nul", "{} x"] {
            assert!(from_str::<AnyJson>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn number_or_string_reads_both_and_tolerates_the_rest() {
        let read = |t: &str| from_str::<NumberOrString>(t).unwrap().0;
        assert_eq!(read("3600"), Some(3600));
        assert_eq!(read("\" 3599 \""), Some(3599));
        assert_eq!(read("1.5"), Some(1));
        assert_eq!(read("-1"), None);
        assert_eq!(read("\"soon\""), None);
        assert_eq!(read("null"), None);
        assert_eq!(read("[1]"), None);
        assert_eq!(read(r#"{"seconds":1}"#), None);
        assert!(from_str::<NumberOrString>("[1").is_err());
    }

    #[test]
    fn one_or_many_reads_a_string_or_an_array_of_strings() {
        let read = |t: &str| from_str::<OneOrMany>(t).ok().map(|v| v.0);
        assert_eq!(read("\"a\""), Some(vec!["a".to_string()]));
        assert_eq!(
            read("[\"a\",\"b\"]"),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(read("[]"), Some(vec![]));
        assert_eq!(read("[1]"), None);
        assert_eq!(read("7"), None);
    }

    #[test]
    fn key_outline_lists_two_levels_of_keys() {
        let outline: KeyOutline =
            from_str(r#"{"a":1,"b":{"x":[{"deep":1}],"y":null},"c":[{"z":1}],"d":{}}"#).unwrap();
        assert_eq!(outline.keys().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(outline.inner("a"), None);
        assert_eq!(
            outline.inner("b"),
            Some(&["x".to_string(), "y".to_string()][..])
        );
        assert_eq!(outline.inner("c"), None);
        assert_eq!(outline.inner("d"), Some(&[][..]));
        assert_eq!(outline.inner("missing"), None);
        assert!(from_str::<KeyOutline>("[1]").is_err());
    }
}
