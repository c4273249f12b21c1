//! The values bound to a query, owned so that either driver can take them, and their
//! conversion into each driver's arguments.

use sqlx::{Arguments, Encode, Type};

/// One bound value. A null keeps its type: PostgreSQL types every parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    I64(i64),
    F64(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    NullI64,
    NullF64,
    NullBool,
    NullText,
    NullBytes,
}

/// A value that can be bound to a query on either database.
pub trait IntoArg {
    fn into_arg(self) -> Arg;
    /// The null of this type, for `None`.
    fn null() -> Arg
    where
        Self: Sized;
}

macro_rules! into_arg {
    ($($t:ty => $variant:ident($conv:expr), $null:ident;)*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(($conv)(self))
            }
            fn null() -> Arg {
                Arg::$null
            }
        }
    )*};
}

into_arg! {
    i64 => I64(|v| v), NullI64;
    &i64 => I64(|v: &i64| *v), NullI64;
    i32 => I64(i64::from), NullI64;
    u32 => I64(i64::from), NullI64;
    u16 => I64(i64::from), NullI64;
    u8 => I64(i64::from), NullI64;
    f64 => F64(|v| v), NullF64;
    f32 => F64(f64::from), NullF64;
    bool => Bool(|v| v), NullBool;
    &bool => Bool(|v: &bool| *v), NullBool;
    String => Text(|v| v), NullText;
    &String => Text(|v: &String| v.clone()), NullText;
    &str => Text(|v: &str| v.to_string()), NullText;
    &&str => Text(|v: &&str| v.to_string()), NullText;
    Vec<u8> => Bytes(|v| v), NullBytes;
    &Vec<u8> => Bytes(|v: &Vec<u8>| v.clone()), NullBytes;
    &[u8] => Bytes(|v: &[u8]| v.to_vec()), NullBytes;
}

impl<T: IntoArg> IntoArg for Option<T> {
    fn into_arg(self) -> Arg {
        match self {
            Some(v) => v.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg {
        T::null()
    }
}

impl<T: IntoArg + Clone> IntoArg for &Option<T> {
    fn into_arg(self) -> Arg {
        self.clone().into_arg()
    }
    fn null() -> Arg {
        T::null()
    }
}

/// The values as a driver's arguments (`SqliteArguments` or `PgArguments`): the same calls for
/// either, since each driver encodes these types itself.
pub(super) fn arguments<'q, A>(args: Vec<Arg>) -> Result<A, sqlx::Error>
where
    A: Arguments<'q> + Default,
    i64: Encode<'q, A::Database> + Type<A::Database>,
    f64: Encode<'q, A::Database> + Type<A::Database>,
    bool: Encode<'q, A::Database> + Type<A::Database>,
    String: Encode<'q, A::Database> + Type<A::Database>,
    Vec<u8>: Encode<'q, A::Database> + Type<A::Database>,
    Option<i64>: Encode<'q, A::Database>,
    Option<f64>: Encode<'q, A::Database>,
    Option<bool>: Encode<'q, A::Database>,
    Option<String>: Encode<'q, A::Database>,
    Option<Vec<u8>>: Encode<'q, A::Database>,
{
    let mut out = A::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(v),
            Arg::F64(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bytes(v) => out.add(v),
            Arg::NullI64 => out.add(None::<i64>),
            Arg::NullF64 => out.add(None::<f64>),
            Arg::NullBool => out.add(None::<bool>),
            Arg::NullText => out.add(None::<String>),
            Arg::NullBytes => out.add(None::<Vec<u8>>),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}
