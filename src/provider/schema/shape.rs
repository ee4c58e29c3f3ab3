//! From a field's Rust type to its Terraform type, so a definition never
//! states a type its field could contradict.

use super::check::Check;
use super::types::{Block, Entry, Nesting, Ty};
use std::collections::BTreeMap;

/// What a field is in the schema.
pub enum Shape {
    Attr(Ty),
    Block(Nesting, fn() -> Block),
    /// Attributes declared for another struct, flattened into this block.
    Group(fn() -> Vec<Entry>),
}

pub trait TfShape {
    fn shape() -> Shape;
    /// Checks every value of this type needs (a choice's values, a
    /// duration's syntax), added to the attribute's own.
    fn implied_checks() -> Vec<Check> {
        Vec::new()
    }
}

/// A struct declared with `define_block!`.
pub trait BlockDef {
    fn block() -> Block;
}

macro_rules! scalar {
    ($ty:expr => $($t:ty),+) => {
        $(impl TfShape for $t {
            fn shape() -> Shape {
                Shape::Attr($ty)
            }
        })+
    };
}
scalar!(Ty::String => String);
scalar!(Ty::Bool => bool);
scalar!(Ty::Number => u8, u16, u32, u64, i32, i64, f64);

/// Choice enums travel as strings.
impl<T: crate::choices::Choice> TfShape for T {
    fn shape() -> Shape {
        Shape::Attr(Ty::String)
    }
    fn implied_checks() -> Vec<Check> {
        vec![Check::one_of::<T>()]
    }
}

impl TfShape for crate::provider::duration::Dur {
    fn shape() -> Shape {
        Shape::Attr(Ty::String)
    }
    fn implied_checks() -> Vec<Check> {
        vec![Check::Duration]
    }
}

/// Optional scalars and at-most-one blocks: the same shape, null when absent.
impl<T: TfShape> TfShape for Option<T> {
    fn shape() -> Shape {
        T::shape()
    }
    fn implied_checks() -> Vec<Check> {
        T::implied_checks()
    }
}

impl<T: TfShape> TfShape for Vec<T> {
    fn shape() -> Shape {
        match T::shape() {
            Shape::Attr(t) => Shape::Attr(Ty::List(Box::new(t))),
            Shape::Block(_, b) => Shape::Block(Nesting::List, b),
            group => group,
        }
    }
    fn implied_checks() -> Vec<Check> {
        T::implied_checks()
    }
}

impl<T: TfShape> TfShape for BTreeMap<String, T> {
    fn shape() -> Shape {
        match T::shape() {
            Shape::Attr(t) => Shape::Attr(Ty::Map(Box::new(t))),
            other => other,
        }
    }
}
