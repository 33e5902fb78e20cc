//! A map with one slot per provider.
//!
//! Written by hand instead of a `BTreeMap<ProviderId, T>`: there are four keys, known at
//! compile time, and each `BTreeMap` instantiation links its own node-balancing code
//! (34 KB of the WebAssembly module for the five maps keyed by provider, measured with
//! twiggy). Iteration is in `ProviderId::ALL` order, the order a `BTreeMap` had.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::ProviderId;

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderMap<T> {
    slots: [Option<T>; 4],
}

impl<T> Default for ProviderMap<T> {
    fn default() -> Self {
        ProviderMap {
            slots: [None, None, None, None],
        }
    }
}

fn index(id: ProviderId) -> usize {
    match id {
        ProviderId::Microsoft => 0,
        ProviderId::Google => 1,
        ProviderId::Salesforce => 2,
        ProviderId::Exchange => 3,
    }
}

impl<T> ProviderMap<T> {
    pub fn new() -> Self {
        <Self as Default>::default()
    }

    pub fn get(&self, id: &ProviderId) -> Option<&T> {
        self.slots[index(*id)].as_ref()
    }

    pub fn get_mut(&mut self, id: &ProviderId) -> Option<&mut T> {
        self.slots[index(*id)].as_mut()
    }

    pub fn contains_key(&self, id: &ProviderId) -> bool {
        self.get(id).is_some()
    }

    /// Sets the slot of `id`, returning what it held.
    pub fn insert(&mut self, id: ProviderId, value: T) -> Option<T> {
        self.slots[index(id)].replace(value)
    }

    pub fn remove(&mut self, id: &ProviderId) -> Option<T> {
        self.slots[index(*id)].take()
    }

    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static ProviderId> + '_ {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

type Slots<'a, T> =
    std::iter::Zip<std::slice::Iter<'static, ProviderId>, std::slice::Iter<'a, Option<T>>>;
type Entry<'a, T> = (&'static ProviderId, &'a T);

impl<'a, T> IntoIterator for &'a ProviderMap<T> {
    type Item = Entry<'a, T>;
    type IntoIter = std::iter::FilterMap<
        Slots<'a, T>,
        fn((&'static ProviderId, &'a Option<T>)) -> Option<Entry<'a, T>>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        ProviderId::ALL
            .iter()
            .zip(self.slots.iter())
            .filter_map(|(id, slot)| Some((id, slot.as_ref()?)))
    }
}

impl<T> IntoIterator for ProviderMap<T> {
    type Item = (ProviderId, T);
    type IntoIter = std::iter::FilterMap<
        std::iter::Zip<std::array::IntoIter<ProviderId, 4>, std::array::IntoIter<Option<T>, 4>>,
        fn((ProviderId, Option<T>)) -> Option<(ProviderId, T)>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        ProviderId::ALL
            .into_iter()
            .zip(self.slots)
            .filter_map(|(id, slot)| Some((id, slot?)))
    }
}

impl<T> FromIterator<(ProviderId, T)> for ProviderMap<T> {
    fn from_iter<I: IntoIterator<Item = (ProviderId, T)>>(iter: I) -> Self {
        let mut map = ProviderMap::new();
        map.extend(iter);
        map
    }
}

impl<T> Extend<(ProviderId, T)> for ProviderMap<T> {
    fn extend<I: IntoIterator<Item = (ProviderId, T)>>(&mut self, iter: I) {
        for (id, value) in iter {
            self.insert(id, value);
        }
    }
}

// JSON: an object keyed by provider name, `{"microsoft": ..., "google": ...}`.
impl<T: Serialize> Serialize for ProviderMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (id, value) in self {
            map.serialize_entry(id, value)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ProviderMap<T> {
    /// A key that names no provider makes the whole value unreadable.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = ProviderMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object keyed by provider name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = ProviderMap::new();
                while let Some((id, value)) = access.next_entry::<ProviderId, T>()? {
                    map.insert(id, value);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_iterate_in_provider_order_and_round_trip_as_an_object() {
        let mut map = ProviderMap::new();
        map.insert(ProviderId::Salesforce, 3u64);
        map.insert(ProviderId::Microsoft, 1);
        assert_eq!(map.insert(ProviderId::Microsoft, 2), Some(1));
        assert_eq!(
            map.iter().map(|(id, v)| (*id, *v)).collect::<Vec<_>>(),
            [(ProviderId::Microsoft, 2), (ProviderId::Salesforce, 3)]
        );
        let text = serde_json::to_string(&map).unwrap();
        assert_eq!(text, r#"{"microsoft":2,"salesforce":3}"#);
        assert_eq!(
            serde_json::from_str::<ProviderMap<u64>>(&text).unwrap(),
            map
        );
        assert_eq!(map.remove(&ProviderId::Microsoft), Some(2));
        assert_eq!(map.len(), 1);
        assert!(serde_json::from_str::<ProviderMap<u64>>(r#"{"yahoo":1}"#).is_err());
        assert!(serde_json::from_str::<ProviderMap<u64>>("{}")
            .unwrap()
            .is_empty());
    }
}
