//! The one table widget: columns are data (title, width, how to render a
//! cell), so any list of rows can be shown the same way.

use ratatui::layout::Constraint;
use ratatui::style::{Modifier, Style};
use ratatui::text::Text;
use ratatui::widgets::{Cell, Row, Table};

/// One column of a [`table`].
pub struct Column<T> {
    pub title: &'static str,
    pub width: Constraint,
    /// The column is dropped when the table is narrower than this.
    pub min_table_width: u16,
    pub right_align: bool,
    pub cell: fn(&T) -> String,
}

/// Builds a table of `rows` with the columns that fit in `width`. `sorted`
/// names the column that carries the sort arrow; `style` gives each row its
/// style (the selected row is drawn reversed on top of it).
pub fn table<'a, T>(
    rows: impl Iterator<Item = &'a T>,
    columns: &[Column<T>],
    width: u16,
    sorted: Option<(&str, bool)>,
    selected: Option<usize>,
    style: impl Fn(&T) -> Style,
) -> Table<'a>
where
    T: 'a,
{
    let shown: Vec<&Column<T>> = columns
        .iter()
        .filter(|c| width >= c.min_table_width)
        .collect();
    let header = Row::new(shown.iter().map(|c| {
        let arrow = match sorted {
            Some((name, desc)) if name == c.title => {
                if desc {
                    " ▼"
                } else {
                    " ▲"
                }
            }
            _ => "",
        };
        Cell::from(format!("{}{}", c.title, arrow))
    }))
    .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let body: Vec<Row> = rows
        .enumerate()
        .map(|(i, r)| {
            let cells = shown.iter().map(|c| {
                let text = (c.cell)(r);
                if c.right_align {
                    Cell::from(Text::from(text).right_aligned())
                } else {
                    Cell::from(text)
                }
            });
            let mut st = style(r);
            if selected == Some(i) {
                st = st.add_modifier(Modifier::REVERSED);
            }
            Row::new(cells).style(st)
        })
        .collect();
    Table::new(body, shown.iter().map(|c| c.width))
        .header(header)
        .column_spacing(1)
}
