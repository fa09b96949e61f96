#include "ui/reports/StudyReportDocument.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "core/stats/Descriptive.h"
#include "ui/reports/StudyCharts.h"

#include <QFileInfo>

#include <cmath>
#include <map>

namespace panseg::ui
{
namespace
{
QString comparisonTitle(const std::string& c)
{
  if (c == "inter")
    return "Inter-observer";
  if (c == "intra")
    return "Intra-observer";
  if (c == "reader-ai")
    return "Reader vs AI";
  if (c == "reader-consensus")
    return "Reader vs consensus";
  return "AI mask edits";
}

/// "[lower, upper]" of an interval, in the metric's digits; "n/a" without one.
QString ciText(double lower, double upper, const std::string& metric)
{
  if (!std::isfinite(lower) || !std::isfinite(upper))
    return "n/a";
  return "[" + formatStudyNumber(lower, metric) + ", " + formatStudyNumber(upper, metric) + "]";
}
QString ciText(const stats::MeanInterval& ci, const std::string& metric)
{
  return ciText(ci.lower, ci.upper, metric);
}

QString meanSd(double mean, double sd, const std::string& metric)
{
  if (!std::isfinite(mean))
    return "n/a";
  return formatStudyNumber(mean, metric) + " ± " +
         (std::isfinite(sd) ? formatStudyNumber(sd, metric) : "n/a");
}

QString pValue(double p)
{
  return p < 0.001 ? QString("< 0.001") : QString::number(p, 'f', 3);
}
} // namespace

QStringList studyReportMethods()
{
  const stats::BootstrapOptions b = db::kappaBootstrapOptions();
  return {
      "Confidence intervals are 95 %. The interval of a mean (Dice, Jaccard, precision, recall, "
      "HD95, ASSD, the per-case voxel kappa, vpe; Tables 3 and 4, per reader) is Student's t "
      "interval mean ± t(n - 1; 0.975) · SD / √n over the pairs, its bounds truncated to the "
      "metric's possible range (overlap metrics 0 to 1, kappa -1 to 1, distances from 0); with "
      "one pair there is none (n/a). Distance metrics are often skewed, so with few cases their "
      "intervals are approximate. Pairs are treated as independent; with three or more readers "
      "the pairs of one case are not, so inter-observer intervals are then somewhat too narrow.",
      "The mean volume difference has the paired t interval; the Bland–Altman limits of agreement "
      "are the mean difference ± 1.96 SD.",
      QString("Kappa of the AI-review ratings: Cohen's kappa (two readers) with the large-sample "
              "standard error of Fleiss, Cohen & Everitt (1969), interval kappa ± 1.96 SE "
              "truncated to [-1, 1]; Fleiss' kappa (three or more readers) with a percentile "
              "bootstrap over cases (%1 resamples, seed %2).")
          .arg(b.resamples)
          .arg(qulonglong(b.seed))};
}

QString formatStudyNumber(double value, const std::string& metric)
{
  if (!std::isfinite(value))
    return "n/a";
  const bool mm = metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_mm") == 0;
  const bool ml = metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_ml") == 0;
  return QString::number(value, 'f', mm || ml ? 2 : 4);
}

ReportTable studyPairsTable(const db::StudyReportData& data)
{
  ReportTable t;
  t.caption = "Agreement per case and pair (A = test, B = reference)";
  t.columns = {"study",
               "series_id",
               "patient",
               "modality",
               "center",
               "comparison",
               "reader_a",
               "reader_b",
               "mask_a",
               "mask_b",
               "dice",
               "jaccard",
               "precision",
               "recall",
               "hd95_mm",
               "hd_mm",
               "assd_mm",
               "kappa",
               "kappa_bbox",
               "volume_a_ml",
               "volume_b_ml",
               "vpe",
               "vpe_min_from_dice",
               "vpe_max_from_dice"};
  for (const auto& p : data.pairs)
  {
    const AgreementResult& m = p.metrics;
    t.rows.push_back({qs(data.study.name),
                      QString::number(p.seriesId),
                      qs(p.patient),
                      qs(p.modality),
                      qs(p.center),
                      qs(p.comparison),
                      qs(p.readerA),
                      qs(p.readerB),
                      QString::number(p.maskA),
                      QString::number(p.maskB),
                      formatStudyNumber(m.dice, "dice"),
                      formatStudyNumber(m.jaccard, "jaccard"),
                      formatStudyNumber(m.precision, "precision"),
                      formatStudyNumber(m.recall, "recall"),
                      formatStudyNumber(m.hd95Mm, "hd95_mm"),
                      formatStudyNumber(m.hdMm, "hd_mm"),
                      formatStudyNumber(m.assdMm, "assd_mm"),
                      formatStudyNumber(m.kappa, "kappa"),
                      formatStudyNumber(m.kappaBbox, "kappa_bbox"),
                      formatStudyNumber(m.volumeAMl, "volume_a_ml"),
                      formatStudyNumber(m.volumeBMl, "volume_b_ml"),
                      formatStudyNumber(m.vpe, "vpe"),
                      formatStudyNumber(m.vpeBounds.min, "vpe"),
                      formatStudyNumber(m.vpeBounds.max, "vpe")});
  }
  return t;
}

Report buildStudyReport(const db::StudyReportData& data, const QString& softwareVersion,
                        bool withCharts)
{
  const db::ReaderStudyInfo& s = data.study;
  Report r;
  r.title = "Reader study report: " + qs(s.name);
  r.landscape = true; // the per-case table is wide
  QStringList readers;
  for (const auto& u : s.readers)
    readers << qs(u.username);
  r.metadata = {
      {"Study", qs(s.name) + " (id " + QString::number(s.id) + (s.open ? ", open)" : ", closed)")},
      {"Design", qs(to_string(s.design)) + (s.design == db::StudyDesign::IntraObserver
                                                ? QString(", wash-out %1 days").arg(s.washoutDays)
                                                : QString())},
      {"Readers start from", qs(to_string(s.startFrom))},
      {"Readers", readers.join(", ")},
      {"Cases", QString::number(s.seriesIds.size())},
      {"Reads counted",
       QString("%1 of %2 (submitted or approved)").arg(data.readsDone).arg(data.readsTotal)},
      {"Label compared", s.label == 0 ? QString("any non-zero") : QString::number(s.label)},
      {"Created", qs(s.createdAt) + " by " + qs(s.createdByName)},
      {"Reference mask", qs(data.referenceRule.details())},
      {"Report generated", qs(data.generatedAt)},
      {"Software", "PanSeg Workstation " + softwareVersion}};
  if (!s.description.empty())
    r.metadata.push_back({"Description", qs(s.description)});
  r.footer = "Research use only. Not a medical device. Metrics follow MedPy's definitions (see "
             "docs/reader-studies.md).";

  // Table 3.
  auto& t3 = r.addSection("Summary (Table 3)");
  t3.paragraphs << "Mean ± SD and the 95 % confidence interval of the mean over the pairs of each "
                   "comparison (methods: section Statistical methods). Distances in mm over the "
                   "pairs where both masks are non-empty (the others are counted as excluded).";
  ReportTable table3;
  table3.caption = "Agreement, mean ± SD and 95 % CI of the mean";
  table3.columns = {"Comparison", "Metric", "Mean ± SD", "95 % CI", "Median", "n", "Excluded"};
  for (const auto& m : data.table3)
  {
    QString title = qs(m.metric);
    for (const auto& [key, label] : db::table3Metrics())
      if (key == m.metric)
        title = qs(label);
    table3.rows.push_back({comparisonTitle(m.comparison), title,
                           meanSd(m.summary.mean, m.summary.sd, m.metric),
                           ciText(m.ci, m.metric), formatStudyNumber(m.summary.median, m.metric),
                           QString::number(m.summary.n), QString::number(m.excluded)});
  }
  t3.tables.push_back(table3);

  // Table 4.
  auto& t4 = r.addSection("By modality and by center (Table 4)");
  ReportTable table4;
  table4.caption = "Dice and HD95 (mm) per group, mean ± SD and 95 % CI of the mean";
  table4.columns = {"Comparison", "Grouped by", "Group", "n", "Dice", "Dice 95 % CI",
                    "HD95 (mm)", "HD95 95 % CI"};
  for (const auto& g : data.table4)
    table4.rows.push_back({comparisonTitle(g.comparison), qs(g.groupBy), qs(g.group),
                           QString::number(g.n), meanSd(g.diceMean, g.diceSd, "dice"),
                           ciText(g.diceCi, "dice"), meanSd(g.hd95Mean, g.hd95Sd, "hd95_mm"),
                           ciText(g.hd95Ci, "hd95_mm")});
  t4.tables.push_back(table4);

  // Volumes.
  auto& vol = r.addSection("Volume agreement");
  vol.paragraphs
      << "Paired t-test of the volumes A - B with the 95 % confidence interval of the mean "
         "difference, Pearson correlation and Bland–Altman 95 % limits of agreement (1.96 SD).";
  ReportTable vt;
  vt.caption = "Volumes (mL)";
  vt.columns = {"Comparison", "n",  "Mean A",    "Mean B",   "Mean diff.", "95 % CI", "t",
                "p (paired t)", "R²", "LoA lower", "LoA upper"};
  for (const auto& v : data.volumes)
    vt.rows.push_back(
        {comparisonTitle(v.comparison), QString::number(v.n),
         formatStudyNumber(v.meanAMl, "volume_ml"), formatStudyNumber(v.meanBMl, "volume_ml"),
         v.tTest ? formatStudyNumber(v.tTest->meanDifference, "volume_ml") : "n/a",
         v.tTest ? ciText(v.tTest->ciLower, v.tTest->ciUpper, "volume_ml") : "n/a",
         v.tTest ? QString::number(v.tTest->t, 'f', 3) : "n/a",
         v.tTest ? pValue(v.tTest->pValue) : "n/a",
         v.pearson ? QString::number(v.pearson->rSquared, 'f', 3) : "n/a",
         v.blandAltman ? formatStudyNumber(v.blandAltman->lowerLimit, "volume_ml") : "n/a",
         v.blandAltman ? formatStudyNumber(v.blandAltman->upperLimit, "volume_ml") : "n/a"});
  vol.tables.push_back(vt);

  // Each reader against the AI mask and the consensus.
  if (!data.readerComparisons.empty())
  {
    auto& rc = r.addSection("Readers against the AI mask and the consensus");
    rc.paragraphs << "Each reader's first reads (A) against the study's AI mask of the case or "
                     "against the newest consensus built in this study (B): mean Dice and HD95 "
                     "with the 95 % confidence interval of the mean. HD95 over the pairs where "
                     "both masks are non-empty. The consensus is built from these first reads, so "
                     "a reader's agreement with it is higher than with an independent reference.";
    ReportTable t;
    t.caption = "Per reader, mean and 95 % CI";
    t.columns = {"Comparison", "Reader", "n", "Dice", "Dice 95 % CI", "HD95 (mm)",
                 "HD95 95 % CI", "Excluded"};
    for (const auto& c : data.readerComparisons)
      t.rows.push_back({comparisonTitle(c.comparison), qs(c.reader), QString::number(c.n),
                        formatStudyNumber(c.dice.mean, "dice"), ciText(c.dice, "dice"),
                        formatStudyNumber(c.hd95.mean, "hd95_mm"), ciText(c.hd95, "hd95_mm"),
                        QString::number(c.hd95Excluded)});
    rc.tables.push_back(t);
  }

  // AI review.
  if (data.acceptance)
  {
    const auto& a = *data.acceptance;
    auto& ai = r.addSection("AI mask acceptance");
    ai.paragraphs
        << QString(
               "Strict rule: a case counts as accepted only when every reader rated the AI mask "
               "\"accept\". Accepted %1 of %2 cases rated by all readers (%3 %); accepted or minor "
               "edits by all: %4.")
               .arg(a.casesAllAccept)
               .arg(a.casesRatedByAll)
               .arg(100.0 * a.strictRate, 0, 'f', 1)
               .arg(a.casesAllAcceptOrMinor);
    auto kappaCi = [](const std::optional<db::Interval>& ci)
    {
      return ci ? QString(" (95 % CI %1 to %2)").arg(ci->lower, 0, 'f', 3).arg(ci->upper, 0, 'f', 3)
                : QString();
    };
    if (a.cohenKappa)
      ai.paragraphs << QString("Cohen's kappa between the two readers' ratings: %1%2.")
                           .arg(*a.cohenKappa, 0, 'f', 3)
                           .arg(kappaCi(a.cohenKappaCi));
    if (a.fleissKappa)
      ai.paragraphs << QString("Fleiss' kappa among the %1 readers' ratings (accept, minor, major, "
                               "reject; cases rated by all): %2%3.")
                           .arg(data.study.readers.size())
                           .arg(*a.fleissKappa, 0, 'f', 3)
                           .arg(kappaCi(a.fleissKappaCi));
    ReportTable rt;
    rt.caption = "Ratings per reader";
    rt.columns = {"Reader", "accept", "minor", "major", "reject"};
    for (const auto& [reader, counts] : a.perReader)
    {
      auto c = [&](const char* k) { return QString::number(counts.count(k) ? counts.at(k) : 0); };
      rt.rows.push_back({qs(reader), c("accept"), c("minor"), c("major"), c("reject")});
    }
    ai.tables.push_back(rt);
  }

  // Methods of the intervals.
  auto& methods = r.addSection("Statistical methods");
  methods.paragraphs << studyReportMethods();

  // Plots, before the per-case table (the appendix).
  if (withCharts && !data.pairs.empty())
  {
    auto& plots = r.addSection("Plots");
    plots.imagesPerRow = 2; // two plots side by side, four per landscape page
    std::map<std::string, std::vector<const db::StudyPairRow*>> byComparison;
    for (const auto& p : data.pairs)
      byComparison[p.comparison].push_back(&p);
    const ChartSize size{640, 400};
    const int width = 420; // HTML px: two per row fit the landscape page, two rows per page
    for (const auto& [c, rows] : byComparison)
    {
      std::vector<double> va, vb, dice, vpe;
      std::map<QString, std::vector<double>> diceByModality;
      for (const auto* p : rows)
      {
        va.push_back(p->metrics.volumeAMl);
        vb.push_back(p->metrics.volumeBMl);
        dice.push_back(p->metrics.dice);
        vpe.push_back(p->metrics.vpe);
        diceByModality[qs(p->modality)].push_back(p->metrics.dice);
      }
      const QString title = comparisonTitle(c);
      plots.images.push_back({volumeScatterChart(va, vb, "A", "B", title + ": volumes", size),
                              title + ": volume of A against B", width});
      plots.images.push_back({blandAltmanChart(va, vb, title + ": Bland–Altman", size),
                              title + ": Bland–Altman plot of the volumes", width});
      plots.images.push_back(
          {diceDistributionChart(diceByModality, title + ": Dice by modality", "modality", size),
           title + ": Dice per modality", width});
      plots.images.push_back({vpeDiceChart(dice, vpe, title + ": vpe against Dice", size),
                              title + ": relative volume error against Dice with its bounds", width});
    }
  }

  // Which approved mask stands for each case (the coordinator's reference-mask rule).
  auto& refs = r.addSection("Reference masks");
  refs.paragraphs << "Rule: " + qs(data.referenceRule.details()) + ".";
  ReportTable rt;
  rt.columns = {"Series", "Patient", "Mask version", "Source", "Why"};
  for (const auto& ref : data.references)
    rt.rows.push_back({QString::number(ref.seriesId), qs(ref.patient),
                       ref.maskVersionId ? QString::number(ref.maskVersionId) : QString("none"), qs(ref.source),
                       qs(ref.reason)});
  refs.tables.push_back(rt);

  // Per case.
  auto& cases = r.addSection("Per case");
  ReportTable pc;
  pc.caption = "Agreement per case and pair (A = test, B = reference; HD95 and ASSD in mm, volumes "
               "in mL; every "
               "column in the CSV export)";
  pc.columns = {"Series", "A",    "B",    "Dice",  "Jaccard", "Prec.",
                "Recall", "HD95", "ASSD", "Kappa", "Vol A",   "Vol B"};
  for (const auto& p : data.pairs)
  {
    const auto& m = p.metrics;
    pc.rows.push_back(
        {QString::number(p.seriesId), qs(p.readerA), qs(p.readerB),
         formatStudyNumber(m.dice, "dice"), formatStudyNumber(m.jaccard, "jaccard"),
         formatStudyNumber(m.precision, "precision"), formatStudyNumber(m.recall, "recall"),
         formatStudyNumber(m.hd95Mm, "hd95_mm"), formatStudyNumber(m.assdMm, "assd_mm"),
         formatStudyNumber(m.kappa, "kappa"), formatStudyNumber(m.volumeAMl, "volume_a_ml"),
         formatStudyNumber(m.volumeBMl, "volume_b_ml")});
  }
  cases.tables.push_back(pc);

  return r;
}

void writeStudyReport(const db::StudyReportData& data, const QString& path,
                      const QString& softwareVersion)
{
  const QString ext = QFileInfo(path).suffix().toLower();
  if (ext == "csv")
    writeCsv(studyPairsTable(data), path);
  else if (ext == "html" || ext == "htm")
    writeHtml(buildStudyReport(data, softwareVersion), path);
  else if (ext == "pdf")
    writePdf(buildStudyReport(data, softwareVersion), path);
  else
    throw Error("cannot write the study report " + path.toStdString() +
                ": use a .csv, .html or .pdf file name");
}
} // namespace panseg::ui
