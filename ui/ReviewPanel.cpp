#include "ui/ReviewPanel.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "ui/ViewerModel.h"

#include <QColor>
#include <QComboBox>
#include <QDateTime>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

namespace panseg::ui
{
namespace
{
bool isCoordinator(const db::StudyDatabase& db)
{
  return db::canCoordinate(db.currentUser().role);
}
QString colorName(Rgb c)
{
  return QColor(c.r, c.g, c.b).name();
}
/// "2026-03-02 09:14" from an ISO UTC time.
QString shortTime(const std::string& iso)
{
  const QDateTime t = QDateTime::fromString(qs(iso), Qt::ISODateWithMs);
  return t.isValid() ? t.toLocalTime().toString("yyyy-MM-dd HH:mm") : qs(iso);
}
const char* const kAgreementKeys[][2] = {
    {"dice", "Dice"},          {"jaccard", "Jaccard"},          {"precision", "Precision"},
    {"recall", "Recall"},      {"volumeA", "Volume A"},         {"volumeB", "Volume B"},
    {"volumeDiff", "A \u2212 B"}, {"volumeDiffPct", "A \u2212 B (% of B)"}, {"hd95", "HD95"},
    {"assd", "ASSD"}};
} // namespace

ReviewPanel::ReviewPanel(QWidget* parent) : QWidget(parent)
{
  m_refreshTimer = new QTimer(this);
  m_refreshTimer->setSingleShot(true);
  m_refreshTimer->setInterval(150);
  connect(m_refreshTimer, &QTimer::timeout, this, &ReviewPanel::refresh);
  m_table = new QTableWidget(0, 5);
  m_table->setObjectName("reviewQueue");
  m_table->setHorizontalHeaderLabels({tr("Study"), tr("Series"), tr("What"), tr("By"), tr("Submitted")});
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->verticalHeader()->hide();
  m_table->setWordWrap(false);
  m_refresh = new QPushButton(tr("Refresh"));

  m_subjectLabel = new QLabel(tr("Pick a read to review."));
  m_subjectLabel->setObjectName("reviewSubject");
  m_subjectLabel->setWordWrap(true);
  m_subjectLabel->setTextFormat(Qt::PlainText);

  m_compare = new QComboBox;
  m_compare->setObjectName("reviewCompareWith");
  m_compare->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_compare->setMinimumContentsLength(18);
  m_style = new QComboBox;
  m_style->setObjectName("reviewCompareStyle");
  m_style->addItem(tr("Contours"));
  m_style->addItem(tr("Agreement colours"));
  m_style->setToolTip(tr("Contours: the shown mask (A) and the compared one (B) each as an outline in its own "
                         "colour. Agreement colours: both, only A, only B."));
  m_legend = new QLabel;
  m_legend->setObjectName("reviewLegend");
  m_legend->setTextFormat(Qt::RichText);

  auto* numbers = new QGridLayout;
  numbers->setHorizontalSpacing(12);
  numbers->setVerticalSpacing(2);
  int i = 0;
  for (const auto& key : kAgreementKeys)
  {
    auto* name = new QLabel(tr(key[1]));
    auto* value = new QLabel(QStringLiteral("\u2013"));
    value->setObjectName(QStringLiteral("agreement_") + key[0]);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_values[QString::fromLatin1(key[0])] = value;
    numbers->addWidget(name, i / 2, (i % 2) * 2);
    numbers->addWidget(value, i / 2, (i % 2) * 2 + 1);
    ++i;
  }
  numbers->setColumnStretch(1, 1);
  numbers->setColumnStretch(3, 1);

  m_comment = new QPlainTextEdit;
  m_comment->setObjectName("reviewComment");
  m_comment->setPlaceholderText(tr("Comment for the reader (required to return)"));
  m_comment->setMaximumHeight(m_comment->fontMetrics().lineSpacing() * 4);
  m_approve = new QPushButton(tr("Approve"));
  m_approve->setObjectName("reviewApprove");
  m_return = new QPushButton(tr("Return with comment"));
  m_return->setObjectName("reviewReturn");
  m_approveConsensus = new QPushButton(tr("Approve consensus"));
  m_approveConsensus->setObjectName("reviewApproveConsensus");
  m_status = new QLabel;
  m_status->setObjectName("reviewStatus");
  m_status->setWordWrap(true);

  auto* head = new QHBoxLayout;
  head->addWidget(new QLabel(tr("Awaiting approval")), 1);
  head->addWidget(m_refresh);
  auto* compareRow = new QHBoxLayout;
  compareRow->addWidget(new QLabel(tr("Compare with")));
  compareRow->addWidget(m_compare, 1);
  auto* styleRow = new QHBoxLayout;
  styleRow->addWidget(new QLabel(tr("Show as")));
  styleRow->addWidget(m_style);
  styleRow->addWidget(m_legend, 1);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(m_approve);
  buttons->addWidget(m_return);
  buttons->addWidget(m_approveConsensus);
  auto* v = new QVBoxLayout(this);
  v->addLayout(head);
  v->addWidget(m_table, 1);
  v->addWidget(m_subjectLabel);
  v->addLayout(compareRow);
  v->addLayout(styleRow);
  v->addLayout(numbers);
  v->addWidget(m_comment);
  v->addLayout(buttons);
  v->addWidget(m_status);

  connect(m_refresh, &QPushButton::clicked, this, &ReviewPanel::refresh);
  connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) { showQueueItem(row); });
  connect(m_table, &QTableWidget::cellActivated, this, [this](int row, int) { showQueueItem(row); });
  connect(m_compare, qOverload<int>(&QComboBox::activated), this,
          [this](int index) { compareWith(m_compare->itemData(index).toLongLong()); });
  connect(m_style, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this]
          {
            updateAgreement();
            emit comparisonChanged();
          });
  connect(m_approve, &QPushButton::clicked, this, &ReviewPanel::approve);
  connect(m_return, &QPushButton::clicked, this, &ReviewPanel::returnWithComment);
  connect(m_approveConsensus, &QPushButton::clicked, this, &ReviewPanel::approveConsensus);
  updateAgreement();
  updateButtons();
}

ReviewPanel::~ReviewPanel() = default;

void ReviewPanel::setDatabase(db::StudyDatabase* db)
{
  m_db = db;
  m_review.reset();
  m_rs.reset();
  if (m_db)
  {
    m_rs = std::make_unique<db::ReaderStudy>(*m_db);
    m_review = std::make_unique<db::ReadReview>(*m_db);
  }
  refresh();
}

bool ReviewPanel::fail(const QString& what, const std::exception& e)
{
  m_lastError = QString::fromUtf8(e.what());
  m_status->setText(what + ": " + m_lastError);
  return false;
}

QString ReviewPanel::statusText() const
{
  return m_status->text();
}

void ReviewPanel::refreshSoon()
{
  m_refreshTimer->start();
}

void ReviewPanel::refresh()
{
  m_refreshTimer->stop();
  m_table->setRowCount(0);
  m_queue.clear();
  if (!m_db || !isCoordinator(*m_db))
  {
    m_status->setText(m_db ? tr("Reviewing is for coordinators and admins (%1 is a %2).")
                                 .arg(qs(m_db->currentUser().username), qs(to_string(m_db->currentUser().role)))
                           : tr("No study database."));
    updateButtons();
    return;
  }
  try
  {
    m_queue = m_review->awaitingApproval();
  }
  catch (const std::exception& e)
  {
    fail(tr("Review"), e);
    updateButtons();
    return;
  }
  m_table->setRowCount(int(m_queue.size()));
  int row = 0;
  for (const db::ReviewItem& item : m_queue)
  {
    QString series = tr("series %1").arg(item.seriesId), seriesTip;
    try
    {
      if (const auto s = m_db->series(item.seriesId))
      {
        if (!s->patientId.empty())
          series = qs(s->patientId);
        seriesTip = tr("series %1: %2 %3").arg(item.seriesId).arg(qs(s->description), qs(to_string(s->modality)));
      }
    }
    catch (const std::exception&)
    {
    }
    QString what, by;
    switch (item.kind)
    {
    case db::ReviewItem::Kind::Read:
      what = item.readNumber > 1 ? tr("read %1 (2nd read)").arg(item.readId) : tr("read %1").arg(item.readId);
      by = qs(item.readerName);
      break;
    case db::ReviewItem::Kind::Consensus:
      what = tr("consensus v%1").arg(item.maskVersionId);
      by = qs(item.method);
      break;
    case db::ReviewItem::Kind::Version:
      what = tr("mask v%1 (%2)").arg(item.maskVersionId).arg(qs(item.method));
      by = qs(item.readerName);
      break;
    }
    const QStringList cells{item.studyId ? qs(item.studyName) : tr("(no study)"), series, what, by,
                            shortTime(item.submittedAt)};
    for (int c = 0; c < cells.size(); ++c)
    {
      auto* cell = new QTableWidgetItem(cells[c]);
      cell->setToolTip(c == 1 && !seriesTip.isEmpty() ? seriesTip : cells[c]);
      m_table->setItem(row, c, cell);
    }
    ++row;
  }
  // Keep the shown item selected when it is still waiting.
  for (size_t r = 0; r < m_queue.size(); ++r)
    if (m_subject.maskVersionId > 0 && m_queue[r].maskVersionId == m_subject.maskVersionId)
      m_table->selectRow(int(r));
  m_status->setText(m_queue.empty() ? tr("Nothing awaits approval.") : tr("%n item(s) await approval.", "", int(m_queue.size())));
  reloadSubjectState();
  updateButtons();
}

bool ReviewPanel::showQueueItem(int row)
{
  if (row < 0 || row >= int(m_queue.size()))
    return false;
  const db::ReviewItem item = m_queue[size_t(row)];
  if (item.kind == db::ReviewItem::Kind::Read)
    return showRead(item.readId);
  Subject s;
  s.kind = item.kind;
  s.studyId = item.studyId;
  s.seriesId = item.seriesId;
  s.maskVersionId = item.maskVersionId;
  s.label = item.label;
  s.state = "submitted";
  s.who = item.readerName;
  s.method = item.method;
  return show(s);
}

bool ReviewPanel::showRead(int64_t readId)
{
  if (!m_rs)
    return false;
  try
  {
    const db::ReadRecord r = m_rs->read(readId);
    Subject s;
    s.kind = db::ReviewItem::Kind::Read;
    s.studyId = r.studyId;
    s.seriesId = r.seriesId;
    s.readId = r.id;
    s.maskVersionId = r.maskVersionId;
    s.label = m_rs->study(r.studyId).label;
    s.state = to_string(r.state);
    s.who = r.readerName;
    s.readNumber = r.readNumber;
    return show(s);
  }
  catch (const std::exception& e)
  {
    return fail(tr("Review read %1").arg(readId), e);
  }
}

bool ReviewPanel::show(const Subject& s)
{
  if (!m_review)
    return false;
  std::optional<LabelMask> mask;
  std::vector<db::ComparisonCandidate> candidates;
  if (!isCoordinator(*m_db))
  {
    m_lastError = tr("Only coordinators and admins review reads (%1 is a %2).")
                      .arg(qs(m_db->currentUser().username), qs(to_string(m_db->currentUser().role)));
    m_status->setText(m_lastError);
    return false;
  }
  try
  {
    if (s.maskVersionId > 0)
      mask = m_db->loadMask(s.maskVersionId);
    if (s.maskVersionId > 0)
      candidates = s.kind == db::ReviewItem::Kind::Version
                       ? m_review->seriesCandidates(s.seriesId, s.maskVersionId)
                       : m_review->comparisonCandidates(s.studyId, s.seriesId, s.maskVersionId);
  }
  catch (const std::exception& e)
  {
    return fail(tr("Review"), e);
  }
  m_subject = s;
  m_shownMask = std::move(mask);
  m_candidates = std::move(candidates);
  m_comparedMask.reset();
  m_comparedId = 0;
  m_agreement.reset();
  m_lastError.clear();
  m_comment->clear();
  for (size_t r = 0; r < m_queue.size(); ++r)
    if (s.maskVersionId > 0 && m_queue[r].maskVersionId == s.maskVersionId)
      m_table->selectRow(int(r));
  fillCandidates();
  reloadSubjectState();
  updateAgreement();
  updateButtons();
  m_status->setText(s.maskVersionId > 0 ? tr("Showing %1 read-only.").arg(titleText())
                                        : tr("Read %1 has no submitted mask yet (%2): only its series is shown.")
                                              .arg(s.readId)
                                              .arg(qs(s.state)));
  emit showRequested(s.seriesId);
  emit comparisonChanged();
  return true;
}

void ReviewPanel::fillCandidates()
{
  QSignalBlocker block(m_compare);
  m_compare->clear();
  m_compare->addItem(tr("(nothing)"), qlonglong(0));
  for (const db::ComparisonCandidate& c : m_candidates)
  {
    const QString text = qs(c.label());
    m_compare->addItem(text, qlonglong(c.maskVersionId));
    m_compare->setItemData(m_compare->count() - 1, text, Qt::ToolTipRole);
  }
  const int index = m_compare->findData(qlonglong(m_comparedId));
  m_compare->setCurrentIndex(index >= 0 ? index : 0);
  m_compare->setEnabled(m_shownMask.has_value() && !m_candidates.empty());
}

bool ReviewPanel::compareWith(int64_t maskVersionId)
{
  if (!m_review)
    return false;
  if (maskVersionId <= 0)
  {
    m_comparedMask.reset();
    m_comparedId = 0;
    m_agreement.reset();
  }
  else
  {
    if (!m_shownMask)
    {
      m_lastError = tr("Nothing to compare: the shown read has no mask.");
      m_status->setText(m_lastError);
      return false;
    }
    try
    {
      db::MaskPairAgreement p = m_review->compareMasks(m_subject.maskVersionId, maskVersionId, m_subject.label);
      m_comparedMask = std::move(p.b);
      m_comparedId = maskVersionId;
      m_agreement = p.agreement;
    }
    catch (const std::exception& e)
    {
      fail(tr("Compare"), e);
      fillCandidates();
      return false;
    }
  }
  {
    QSignalBlocker block(m_compare);
    const int index = m_compare->findData(qlonglong(m_comparedId));
    m_compare->setCurrentIndex(index >= 0 ? index : 0);
  }
  m_lastError.clear();
  updateAgreement();
  updateButtons();
  m_status->setText(m_comparedId ? tr("Comparing %1 (A) with %2 (B).")
                                       .arg(titleText(), m_compare->currentText())
                                 : tr("Showing %1 read-only.").arg(titleText()));
  emit comparisonChanged();
  return true;
}

void ReviewPanel::setContours(bool on)
{
  m_style->setCurrentIndex(on ? 0 : 1);
}

bool ReviewPanel::contours() const
{
  return m_style->currentIndex() == 0;
}

QString ReviewPanel::titleText() const
{
  switch (m_subject.kind)
  {
  case db::ReviewItem::Kind::Read:
    return m_subject.maskVersionId > 0
               ? tr("read %1 (%2) / mask v%3").arg(m_subject.readId).arg(qs(m_subject.who)).arg(m_subject.maskVersionId)
               : tr("read %1 (%2)").arg(m_subject.readId).arg(qs(m_subject.who));
  case db::ReviewItem::Kind::Consensus:
    return tr("consensus v%1 (%2)").arg(m_subject.maskVersionId).arg(qs(m_subject.method));
  case db::ReviewItem::Kind::Version:
    return tr("mask v%1 (%2)").arg(m_subject.maskVersionId).arg(qs(m_subject.who));
  }
  return {};
}

QString ReviewPanel::bannerText() const
{
  if (m_subject.seriesId <= 0)
    return {};
  QString text = tr("Review (read-only): %1, %2").arg(titleText(), qs(m_subject.state));
  if (m_comparedId > 0)
    text += tr("  \u2014 compared with %1").arg(m_compare->currentText());
  return text;
}

void ReviewPanel::reloadSubjectState()
{
  if (m_subject.seriesId <= 0 || !m_rs)
  {
    m_subjectLabel->setText(tr("Pick a read to review."));
    return;
  }
  try
  {
    if (m_subject.kind == db::ReviewItem::Kind::Read && m_subject.readId > 0)
      m_subject.state = to_string(m_rs->read(m_subject.readId).state);
    else if (const auto m = m_db->maskVersion(m_subject.maskVersionId))
      m_subject.state = to_string(m->state);
  }
  catch (const std::exception& e)
  {
    fail(tr("Review"), e);
  }
  QString series = tr("series %1").arg(m_subject.seriesId);
  try
  {
    if (const auto s = m_db->series(m_subject.seriesId))
      series = qs(s->patientId) + " / " + qs(s->description);
  }
  catch (const std::exception&)
  {
  }
  m_subjectLabel->setText(tr("Shown (A): %1 \u2014 %2 \u2014 %3").arg(titleText(), series, qs(m_subject.state)));
}

void ReviewPanel::updateAgreement()
{
  const Rgb a = ViewerModel::contourColor(false), b = ViewerModel::contourColor(true);
  if (contours())
    m_legend->setText(tr("<span style='color:%1'>\u25a0</span> A (shown) &nbsp; <span style='color:%2'>\u25a0</span> B "
                         "(compared)")
                          .arg(colorName(a), colorName(b)));
  else
    m_legend->setText(tr("<span style='color:%1'>\u25a0</span> both &nbsp; <span style='color:%2'>\u25a0</span> only A "
                         "&nbsp; <span style='color:%3'>\u25a0</span> only B")
                          .arg(colorName(ViewerModel::agreementColor(edit::AgreeBoth)), colorName(a), colorName(b)));
  const QString none = QStringLiteral("\u2013");
  if (!m_agreement)
  {
    for (auto& [key, label] : m_values)
      label->setText(none);
    return;
  }
  const AgreementResult& r = *m_agreement;
  auto num = [](double v, int decimals) { return std::isfinite(v) ? QString::number(v, 'f', decimals) : QString("n/a"); };
  auto mm = [&](double v) { return r.distancesDefined ? num(v, 2) + " mm" : tr("n/a (a mask is empty)"); };
  m_values["dice"]->setText(num(r.dice, 4));
  m_values["jaccard"]->setText(num(r.jaccard, 4));
  m_values["precision"]->setText(num(r.precision, 4));
  m_values["recall"]->setText(num(r.recall, 4));
  m_values["volumeA"]->setText(num(r.volumeAMl, 2) + " mL");
  m_values["volumeB"]->setText(num(r.volumeBMl, 2) + " mL");
  const double diff = r.volumeAMl - r.volumeBMl;
  m_values["volumeDiff"]->setText((diff > 0 ? "+" : "") + num(diff, 2) + " mL");
  m_values["volumeDiffPct"]->setText(std::isfinite(r.vpe) ? (r.vpe > 0 ? "+" : "") + num(100.0 * r.vpe, 1) + " %"
                                                          : QString("n/a"));
  m_values["hd95"]->setText(mm(r.hd95Mm));
  m_values["assd"]->setText(mm(r.assdMm));
}

int64_t ReviewPanel::consensusToApprove() const
{
  if (m_subject.kind == db::ReviewItem::Kind::Consensus && m_subject.state == "submitted")
    return m_subject.maskVersionId;
  for (const db::ComparisonCandidate& c : m_candidates)
    if (c.maskVersionId == m_comparedId && c.kind == db::ComparisonCandidate::Kind::Consensus &&
        c.state == "submitted")
      return c.maskVersionId;
  return 0;
}

void ReviewPanel::updateButtons()
{
  const bool coordinator = m_db && isCoordinator(*m_db);
  const bool decidable = coordinator && m_subject.maskVersionId > 0 && m_subject.state == "submitted" &&
                         m_subject.kind != db::ReviewItem::Kind::Consensus;
  m_approve->setEnabled(decidable);
  m_return->setEnabled(decidable);
  m_approveConsensus->setEnabled(coordinator && consensusToApprove() > 0);
  m_refresh->setEnabled(coordinator);
}

bool ReviewPanel::approve()
{
  m_lastError.clear();
  if (!m_review || m_subject.maskVersionId <= 0)
    return false;
  const std::string comment = m_comment->toPlainText().trimmed().toStdString();
  try
  {
    if (m_subject.kind == db::ReviewItem::Kind::Read)
      m_rs->approveRead(m_subject.readId, comment);
    else if (m_subject.kind == db::ReviewItem::Kind::Version)
      m_review->approveVersion(m_subject.maskVersionId, comment);
    else
      return approveConsensus();
  }
  catch (const std::exception& e)
  {
    return fail(tr("Approve"), e);
  }
  const QString done = tr("%1 approved.").arg(titleText());
  m_comment->clear();
  refresh();
  m_status->setText(done);
  emit reviewed(m_subject.seriesId);
  return true;
}

bool ReviewPanel::returnWithComment()
{
  m_lastError.clear();
  if (!m_review || m_subject.maskVersionId <= 0)
    return false;
  const std::string comment = m_comment->toPlainText().trimmed().toStdString();
  if (comment.empty())
  {
    m_lastError = tr("Write a comment for the reader first: a read is returned with the reason.");
    m_status->setText(m_lastError);
    m_comment->setFocus();
    return false;
  }
  try
  {
    if (m_subject.kind == db::ReviewItem::Kind::Read)
      m_rs->returnRead(m_subject.readId, comment);
    else if (m_subject.kind == db::ReviewItem::Kind::Version)
      m_review->returnVersion(m_subject.maskVersionId, comment);
    else
      throw Error("a consensus mask is not returned; build a new one instead");
  }
  catch (const std::exception& e)
  {
    return fail(tr("Return"), e);
  }
  const QString done = tr("%1 returned with the comment \u201c%2\u201d.").arg(titleText(), qs(comment));
  m_comment->clear();
  refresh();
  m_status->setText(done);
  emit reviewed(m_subject.seriesId);
  return true;
}

bool ReviewPanel::approveConsensus()
{
  m_lastError.clear();
  const int64_t id = consensusToApprove();
  if (!m_review || id <= 0)
  {
    m_lastError = tr("Show or compare with a submitted consensus mask first.");
    m_status->setText(m_lastError);
    return false;
  }
  try
  {
    m_review->approveConsensus(id, m_comment->toPlainText().trimmed().toStdString());
    // The compared consensus' state in the box changes too.
    if (m_subject.kind != db::ReviewItem::Kind::Consensus)
      m_candidates = m_review->comparisonCandidates(m_subject.studyId, m_subject.seriesId, m_subject.maskVersionId);
  }
  catch (const std::exception& e)
  {
    return fail(tr("Approve consensus"), e);
  }
  m_comment->clear();
  fillCandidates();
  refresh();
  m_status->setText(tr("Consensus mask v%1 approved.").arg(id));
  emit reviewed(m_subject.seriesId);
  return true;
}
} // namespace panseg::ui
