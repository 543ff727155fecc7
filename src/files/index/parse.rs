//! The index file format, versions 2 to 4 (git's
//! Documentation/gitformat-index.txt): the entries and the `TREE`
//! extension. Anything else returns `None`, for the caller to fall back.

use std::collections::HashMap;
use std::ops::Range;

use git2::Oid;

use super::{CachedTree, Entry, MODE_GITLINK, StagedIndex};

const OID_LEN: usize = 20;

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// Parses versions 2–4; `None` for anything we do not read.
pub(super) fn parse(owned: Vec<u8>) -> Option<StagedIndex> {
    let data = owned.as_slice();
    if data.get(..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len().checked_sub(OID_LEN)?;
    let mut at = 12;
    let mut entries = Vec::with_capacity(count);
    // Versions 2 and 3 keep paths whole in the file: point into a copy of it.
    // Version 4 compresses them against the previous path: rebuild them.
    let mut compressed: Vec<u8> = Vec::new();
    let mut previous: Range<usize> = 0..0;
    for _ in 0..count {
        let mode = be32(data, at + 24)?;
        let oid = Oid::from_bytes(data.get(at + 40..at + 40 + OID_LEN)?).ok()?;
        let flags = be16(data, at + 60)?;
        let stage = (flags >> 12) & 0b11;
        let extended = flags & 0x4000 != 0;
        let mut name_at = at + 62;
        let mut intent_to_add = false;
        if extended {
            if version < 3 {
                return None;
            }
            let ext = be16(data, name_at)?;
            intent_to_add = ext & 0x2000 != 0;
            name_at += 2;
        }
        let path;
        if version == 4 {
            let (strip, used) = varint(data.get(name_at..)?)?;
            name_at += used;
            let nul = data.get(name_at..)?.iter().position(|b| *b == 0)?;
            let keep = previous.len().checked_sub(strip as usize)?;
            let start = compressed.len();
            compressed.extend_from_within(previous.start..previous.start + keep);
            compressed.extend_from_slice(&data[name_at..name_at + nul]);
            path = start..compressed.len();
            at = name_at + nul + 1;
        } else {
            let len = (flags & 0x0fff) as usize;
            let nul = if len < 0x0fff {
                len
            } else {
                data.get(name_at..)?.iter().position(|b| *b == 0)?
            };
            path = name_at..name_at + nul;
            // Entries are NUL-padded to a multiple of eight bytes.
            let entry_len = (name_at - at) + nul;
            at += (entry_len + 8) & !7;
        }
        if at > end {
            return None;
        }
        previous = path.clone();
        if stage == 0 && !intent_to_add && mode != MODE_GITLINK {
            entries.push(Entry { path, oid, mode });
        }
    }
    let mut cache = None;
    while at + 8 <= end {
        let sig = &data[at..at + 4];
        let size = be32(data, at + 4)? as usize;
        let body = data.get(at + 8..at + 8 + size)?;
        match sig {
            b"TREE" => cache = parse_tree_cache(body),
            // Required extensions we do not understand (split index,
            // sparse directories): a lowercase first letter means required.
            s if s[0].is_ascii_lowercase() => return None,
            _ => {}
        }
        at += 8 + size;
    }
    let paths = if version == 4 { compressed } else { owned };
    Some(StagedIndex {
        paths,
        entries,
        cache,
    })
}

/// Git's offset varint (not LEB128): each continuation adds one.
fn varint(data: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut c = *data.get(i)?;
    let mut val = u64::from(c & 0x7f);
    while c & 0x80 != 0 {
        i += 1;
        val = val.checked_add(1)?.checked_mul(128)?;
        c = *data.get(i)?;
        val += u64::from(c & 0x7f);
    }
    Some((val, i + 1))
}

fn parse_tree_cache(body: &[u8]) -> Option<CachedTree> {
    let mut at = 0;
    let (_, node) = tree_node(body, &mut at)?;
    Some(node)
}

fn tree_node(body: &[u8], at: &mut usize) -> Option<(Vec<u8>, CachedTree)> {
    let nul = body.get(*at..)?.iter().position(|b| *b == 0)?;
    let name = body[*at..*at + nul].to_vec();
    *at += nul + 1;
    let nl = body.get(*at..)?.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&body[*at..*at + nl]).ok()?;
    *at += nl + 1;
    let (count, subtrees) = line.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    let oid = if count >= 0 {
        let oid = Oid::from_bytes(body.get(*at..*at + OID_LEN)?).ok()?;
        *at += OID_LEN;
        Some(oid)
    } else {
        None
    };
    let mut children = HashMap::with_capacity(subtrees);
    for _ in 0..subtrees {
        let (child_name, child) = tree_node(body, at)?;
        children.insert(child_name, child);
    }
    Some((name, CachedTree { oid, children }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_git() {
        // Values from git's varint.c round trips.
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x80, 0x7f]), Some((255, 2)));
        assert_eq!(varint(&[0x81, 0x00]), Some((256, 2)));
    }

    #[test]
    fn rejects_what_is_not_an_index() {
        assert!(parse(b"not an index at all, no".to_vec()).is_none());
    }
}
