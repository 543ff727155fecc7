//! The full option path an attribute entry sets, through nested sets and
//! `lib.mkIf`/`lib.mkMerge`.

use rnix::SyntaxKind;
use rnix::ast;
use rowan::ast::AstNode;

use crate::syntax;

/// The attribute path of an entry, including the entries of the sets it is
/// nested in (through `lib.mkIf`, `lib.mkMerge [ … ]` and parentheses), with
/// a leading `config.` dropped.
pub fn full_path(apv: &ast::AttrpathValue) -> Option<Vec<String>> {
    let mut path = syntax::attrpath_names(&apv.attrpath()?)?;
    let mut node = apv.syntax().parent()?; // the set holding it
    loop {
        let parent = node.parent()?;
        match parent.kind() {
            SyntaxKind::NODE_ATTRPATH_VALUE => {
                let outer = ast::AttrpathValue::cast(parent.clone())?;
                let mut prefix = syntax::attrpath_names(&outer.attrpath()?)?;
                prefix.extend(path);
                path = prefix;
                node = parent.parent()?;
            }
            // Through `lib.mkIf c { … }` and `lib.mkMerge [ … ]`, but not
            // through a list-valued option such as `modules = [ { … } ]`,
            // whose items are modules of their own.
            SyntaxKind::NODE_APPLY | SyntaxKind::NODE_PAREN => node = parent,
            SyntaxKind::NODE_LIST
                if parent
                    .parent()
                    .is_some_and(|g| g.kind() == SyntaxKind::NODE_APPLY) =>
            {
                node = parent
            }
            _ => break,
        }
    }
    if path.first().is_some_and(|p| p == "config") {
        path.remove(0);
    }
    Some(path)
}
