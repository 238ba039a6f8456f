//! The two screen sizes every page flow is tried at: a desktop (1280×800) and a phone
//! (390×844, emulated as a touch screen of that size).

use super::webdriver::{Browser, Driver};

#[derive(Clone, Copy)]
pub enum Size {
    Desktop,
    Phone,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Desktop => "desktop",
            Size::Phone => "phone",
        }
    }

    pub async fn open(self, driver: &Driver) -> Browser {
        match self {
            Size::Desktop => driver.browser(1280, 800).await,
            Size::Phone => {
                let page = driver.browser(390, 844).await;
                page.emulate_screen(390, 844).await;
                page
            }
        }
    }
}

/// Runs a scenario once per screen size, as two tests named `desktop` and `phone`.
#[macro_export]
macro_rules! both_sizes {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_web::test]
            async fn desktop() {
                super::$body($crate::helpers::Size::Desktop).await
            }

            #[actix_web::test]
            async fn phone() {
                super::$body($crate::helpers::Size::Phone).await
            }
        }
    };
}
