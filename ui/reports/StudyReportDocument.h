#pragma once
// A reader-study report as a document (ui/reports/Report.h): study metadata, the per-case table,
// Table 3 (mean ± SD and 95 % CI per metric), Table 4 (by modality and by center), volume
// agreement (paired t-test, R², Bland–Altman), readers against the AI mask and the consensus,
// AI-review acceptance (kappa with CIs), the statistical methods and the plots of StudyCharts.h
// (two per row). Every number
// is formatted by formatStudyNumber, so the CSV, HTML and PDF show the same digits.
#include "database/studies/StudyReport.h"
#include "ui/reports/Report.h"

namespace panseg::ui
{
/// Fixed decimals per quantity: overlap metrics and kappa 4, vpe 4, distances (mm) 2,
/// volumes (mL) 2; non-finite values "n/a".
QString formatStudyNumber(double value, const std::string& metric);
/// The "Statistical methods" paragraphs: how every confidence interval of the report is made.
QStringList studyReportMethods();
/// One row per case and pair: the CSV table (every metric of computeAgreement).
ReportTable studyPairsTable(const db::StudyReportData& data);
/// The whole document (charts included unless withCharts is false).
Report buildStudyReport(const db::StudyReportData& data, const QString& softwareVersion,
                        bool withCharts = true);
/// Writes FILE.csv (the pairs table), FILE.html or FILE.pdf by the extension (PDF needs a
/// QGuiApplication). Throws Error for another extension.
void writeStudyReport(const db::StudyReportData& data, const QString& path,
                      const QString& softwareVersion);
} // namespace panseg::ui
