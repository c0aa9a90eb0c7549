//! Building small synthetic traces for tests and examples: the text form of
//! Go's trace test corpus (see `weft_trace::raw`), with every batch's
//! `size=` filled in so hand-written traces need not count bytes.

/// Encodes a text trace, computing each `EventBatch`'s size from its events
/// (whatever `size=` the text says is replaced).
pub fn trace_from_text(text: &str) -> Result<Vec<u8>, String> {
    let mut lines: Vec<String> = text.lines().map(|l| l.to_string()).collect();
    let header = lines.first().cloned().unwrap_or_default();
    let batch_starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with("EventBatch "))
        .collect();
    for (k, &i) in batch_starts.iter().enumerate() {
        let end = batch_starts.get(k + 1).copied().unwrap_or(lines.len());
        let head = set_size(&lines[i], 0);
        let empty = format!("{header}\n{head}\n");
        let full = format!("{header}\n{head}\n{}\n", lines[i + 1..end].join("\n"));
        let enc = |t: &str| weft_trace::raw::text_to_binary(t).map_err(|e| e.to_string());
        let n = enc(&full)?.len() - enc(&empty)?.len();
        lines[i] = set_size(&lines[i], n);
    }
    weft_trace::raw::text_to_binary(&(lines.join("\n") + "\n")).map_err(|e| e.to_string())
}

fn set_size(line: &str, n: usize) -> String {
    let kept: Vec<&str> = line
        .split_whitespace()
        .filter(|w| !w.starts_with("size="))
        .collect();
    format!("{} size={n}", kept.join(" "))
}
