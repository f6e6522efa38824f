/* kc_template.h - the spreadsheet a field office starts from (kc-send --template).
 *
 * DESIGN
 * kc_template_write writes a ready template in the language given ("vi" or
 * "en"; the template's content, whatever the gettext language of the
 * moment): one header row naming every column of the CSV contract in its
 * order (data/columns.tsv: a Vietnamese alias under "vi", the contract's
 * names under "en"; every header reads back through kc_value_column), and one
 * filled example row that imports as a valid event (event_id VD-2026-01-001 /
 * EX-2026-01-001, province 79 by name, 2026-01, vocational training, actual,
 * kcdp, amount 150,000,000 and 35 persons, a note saying to replace it).
 * xlsx (libxlsxwriter): sheet 1 ("Báo cáo" / "Report") holds them with a
 * bold frozen header, id and code columns as text, data validations on the
 * data rows (drop-down lists for province names, activities - Vietnamese
 * labels under "vi", names under "en" -, kind and fund words, which only
 * warn since codes and other aliases import too; whole numbers for year
 * 2000-2100 and month 1-12); sheet 2 ("Danh mục" / "Lists") lists the
 * provinces of both schemes (code, name, scheme, validity, successor), the
 * activities (code, name, both labels, the metrics each allows) and the
 * ranges the drop-downs reference. CSV: UTF-8 with a BOM, CRLF, comma.
 * A template filled in Excel or LibreOffice imports as is (kc_import.h;
 * tests/import/template_roundtrip.py).
 */
#ifndef KC_TEMPLATE_H
#define KC_TEMPLATE_H

#include <stddef.h>

typedef enum { KC_TEMPLATE_XLSX = 0, KC_TEMPLATE_CSV = 1 } kc_template_format_t;

/* Write the template to path (created or replaced; written to a temporary
 * name in the same directory and renamed). lang: "vi" or "en" (NULL = the
 * current gettext language, kc_i18n). Returns 0, or a negative KC_E* with a
 * one-line reason (in the current gettext language) in err[cap]. */
int kc_template_write(const char *path, kc_template_format_t fmt, const char *lang, char *err,
                      size_t cap);

#endif
