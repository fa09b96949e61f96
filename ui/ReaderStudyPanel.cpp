#include "ui/ReaderStudyPanel.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/studies/ReaderStudy.h"
#include "database/studies/ReferenceMask.h"
#include "database/StudyDatabase.h"
#include "database/studies/StudyReport.h"
#include "database/session/WorkstationSession.h"
#include "ui/ReaderWorklistModel.h"
#include "ui/reports/StudyReportDocument.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QCheckBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QTableView>
#include <QTextBrowser>
#include <QTextCursor>
#include <QVBoxLayout>

#include <algorithm>

namespace panseg::ui
{
namespace
{
bool isCoordinator(const db::StudyDatabase& db)
{
  return db::canCoordinate(db.currentUser().role);
}
} // namespace

ReaderStudyPanel::ReaderStudyPanel(QWidget* parent)
    : QWidget(parent), m_model(new ReaderWorklistModel(this))
{
  m_studies = new QComboBox;
  m_table = new QTableView;
  m_table->setModel(m_model);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  // Every column as wide as its contents (states, "returned"), the comment takes the rest and
  // shows in full as a tooltip.
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->setWordWrap(false);
  m_table->verticalHeader()->hide();
  m_progress = new QProgressBar;
  m_status = new QLabel;
  m_status->setObjectName("studyStatus");
  m_status->setWordWrap(true);
  m_next = new QPushButton(tr("Open next"));
  m_open = new QPushButton(tr("Open selected"));
  m_submit = new QPushButton(tr("Submit shown mask"));
  m_rating = new QComboBox;
  m_rating->addItems({"accept", "minor", "major", "reject"});
  m_rate = new QPushButton(tr("Rate AI mask"));
  m_create = new QPushButton(tr("New study..."));
  m_approve = new QPushButton(tr("Approve"));
  m_return = new QPushButton(tr("Return..."));
  m_report = new QPushButton(tr("Report..."));
  m_showReport = new QPushButton(tr("Show Report"));
  m_showReport->setObjectName("showStudyReport");
  m_consensusMethod = new QComboBox;
  m_consensusMethod->setObjectName("consensusMethod");
  m_consensusMethod->addItem(tr("majority vote"), QStringLiteral("majority"));
  m_consensusMethod->addItem(tr("STAPLE"), QStringLiteral("staple"));
  m_consensusMethod->setToolTip(tr("Consensus of the case's reads: voxels marked by more than half of the "
                                   "readers, or STAPLE (each reader's sensitivity and specificity estimated "
                                   "by EM)"));
  m_consensus = new QPushButton(tr("Build consensus"));
  m_consensus->setObjectName("buildConsensus");
  m_ruleLabel = new QLabel;
  m_ruleLabel->setObjectName("studyReferenceRule");
  m_ruleLabel->setWordWrap(true);
  m_ruleBox = new QComboBox;
  m_ruleBox->setObjectName("studyReferenceRuleBox");
  m_ruleBox->setToolTip(tr("Which approved mask of each case this study's report uses"));
  m_setRule = new QPushButton(tr("Set for study"));
  m_setRule->setObjectName("setStudyReferenceRule");
  m_allowPrediction = new QCheckBox(tr("Allow AI prediction during from-scratch reads"));
  m_allowPrediction->setObjectName("studyAllowPrediction");
  m_allowPrediction->setToolTip(tr("Whether the study's readers may run Segmentation > Predict Pancreas while "
                                   "they read (off by default: readers who start from scratch must not see "
                                   "the AI's answer). Only coordinators and admins change it; audited."));

  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Study:")));
  top->addWidget(m_studies, 1);
  auto* reader = new QHBoxLayout;
  reader->addWidget(m_next);
  reader->addWidget(m_open);
  reader->addWidget(m_submit);
  auto* ai = new QHBoxLayout;
  ai->addWidget(m_rating);
  ai->addWidget(m_rate);
  ai->addStretch();
  auto* coord = new QHBoxLayout;
  coord->addWidget(m_create);
  coord->addWidget(m_approve);
  coord->addWidget(m_return);
  coord->addWidget(m_showReport);
  coord->addWidget(m_report);
  auto* consensus = new QHBoxLayout;
  consensus->addWidget(m_consensusMethod);
  consensus->addWidget(m_consensus);
  consensus->addStretch();
  auto* rule = new QHBoxLayout;
  rule->addWidget(m_ruleBox, 1);
  rule->addWidget(m_setRule);
  auto* v = new QVBoxLayout(this);
  v->addLayout(top);
  v->addWidget(m_progress);
  v->addWidget(m_table, 1);
  v->addLayout(reader);
  v->addLayout(ai);
  v->addLayout(coord);
  v->addLayout(consensus);
  v->addWidget(m_ruleLabel);
  v->addLayout(rule);
  v->addWidget(m_allowPrediction);
  v->addWidget(m_status);

  connect(m_studies, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this] { refreshWorklist(); });
  connect(m_next, &QPushButton::clicked, this, &ReaderStudyPanel::openNext);
  connect(m_open, &QPushButton::clicked, this, &ReaderStudyPanel::openSelected);
  connect(m_table, &QTableView::doubleClicked, this, &ReaderStudyPanel::openSelected);
  connect(m_submit, &QPushButton::clicked, this,
          [this]
          {
            if (m_openedRead > 0)
              emit submitRequested(m_openedRead);
            else
              m_status->setText(tr("Open a read first."));
          });
  connect(m_rate, &QPushButton::clicked, this, &ReaderStudyPanel::rateSelected);
  connect(m_create, &QPushButton::clicked, this, &ReaderStudyPanel::createStudyDialog);
  connect(m_approve, &QPushButton::clicked, this, &ReaderStudyPanel::approveSelected);
  connect(m_return, &QPushButton::clicked, this, &ReaderStudyPanel::returnSelected);
  connect(m_report, &QPushButton::clicked, this, &ReaderStudyPanel::writeReportDialog);
  connect(m_showReport, &QPushButton::clicked, this, &ReaderStudyPanel::showReport);
  connect(m_consensus, &QPushButton::clicked, this, [this] { buildConsensusForSelected(); });
  connect(m_setRule, &QPushButton::clicked, this, [this] { setStudyReferenceRule(); });
  connect(m_allowPrediction, &QCheckBox::clicked, this, [this](bool on) { setAllowPrediction(on); });
}

ReaderStudyPanel::~ReaderStudyPanel() = default;

bool ReaderStudyPanel::openDatabase(const QString& folder, QString* error)
{
  // On its own (tests) the panel gets a session of its own; the workstation gives its shared one.
  auto own = std::make_unique<db::WorkstationSession>();
  try
  {
    own->open(folder.toStdString());
  }
  catch (const std::exception& e)
  {
    if (error)
      *error = QString::fromUtf8(e.what());
    return false;
  }
  setSession(own.get());
  m_ownSession = std::move(own);
  return true;
}

db::StudyDatabase* ReaderStudyPanel::database() const { return m_session ? m_session->database() : nullptr; }
db::ReaderStudy* ReaderStudyPanel::service() const { return m_session ? m_session->readerStudy() : nullptr; }

void ReaderStudyPanel::setSession(db::WorkstationSession* session)
{
  m_session = session;
  m_ownSession.reset();
  const bool coordinator = database() && isCoordinator(*database());
  for (QPushButton* b : {m_create, m_approve, m_return, m_report, m_showReport, m_consensus})
    b->setVisible(coordinator);
  m_consensusMethod->setVisible(coordinator);
  for (QWidget* w : std::initializer_list<QWidget*>{ m_ruleLabel, m_ruleBox, m_setRule })
    w->setVisible(coordinator);
  refresh();
}

bool ReaderStudyPanel::fail(const QString& what, const std::exception& e)
{
  m_lastError = QString::fromUtf8(e.what());
  m_status->setText(what + ": " + m_lastError);
  auto* box = new QMessageBox(QMessageBox::Warning, what, m_lastError, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
  return false;
}

void ReaderStudyPanel::refresh()
{
  if (!service())
    return;
  const int64_t keep = currentStudyId();
  QSignalBlocker block(m_studies);
  m_studies->clear();
  try
  {
    const bool coordinator = isCoordinator(*database());
    for (const auto& s : service()->studies())
    {
      const bool mine =
          std::any_of(s.readers.begin(), s.readers.end(),
                      [&](const db::User& u) { return u.id == database()->currentUser().id; });
      if (coordinator || mine)
        m_studies->addItem(qs(s.name) + " (" + qs(to_string(s.design)) +
                               (s.open ? ")" : ", closed)"),
                           qlonglong(s.id));
    }
  }
  catch (const std::exception& e)
  {
    fail(tr("Reader studies"), e);
  }
  const int index = m_studies->findData(qlonglong(keep));
  m_studies->setCurrentIndex(index >= 0 ? index : 0);
  refreshWorklist();
}

int64_t ReaderStudyPanel::currentStudyId() const
{
  return m_studies->currentData().toLongLong();
}

void ReaderStudyPanel::selectStudy(int64_t studyId)
{
  const int index = m_studies->findData(qlonglong(studyId));
  if (index >= 0)
    m_studies->setCurrentIndex(index);
}

void ReaderStudyPanel::refreshWorklist()
{
  m_model->setReads({});
  m_progress->setRange(0, 1);
  m_progress->setValue(0);
  const int64_t study = currentStudyId();
  m_allowPrediction->setVisible(false);
  if (!service() || study <= 0)
  {
    m_status->setText(service() ? tr("No reader study for %1.").arg(qs(database()->currentUser().username))
                           : QString());
    return;
  }
  try
  {
    const db::ReaderStudyInfo info = service()->study(study);
    const bool ai = info.design == db::StudyDesign::AiReview;
    m_rating->setVisible(ai);
    m_rate->setVisible(ai);
    const bool reader =
        std::any_of(info.readers.begin(), info.readers.end(),
                    [&](const db::User& u) { return u.id == database()->currentUser().id; });
    for (QPushButton* b : {m_next, m_open, m_submit})
      b->setVisible(reader);
    // The prediction setting matters for from-scratch studies; readers see it, only
    // coordinators and admins change it (ReaderStudy::setAllowPrediction checks the role too).
    {
      const QSignalBlocker blockAllow(m_allowPrediction);
      const bool scratch = info.startFrom == db::StartFrom::Scratch && !ai;
      m_allowPrediction->setVisible(scratch && database()->schemaVersion() >= 8);
      m_allowPrediction->setChecked(info.allowPrediction);
      m_allowPrediction->setEnabled(isCoordinator(*database()) && info.open);
    }
    if (isCoordinator(*database()))
    {
      const auto reads = service()->reads(study);
      int done = 0;
      for (const auto& r : reads)
        done += r.state == db::ReadState::Submitted || r.state == db::ReadState::Approved;
      m_model->setReads(reads);
      m_progress->setRange(0, std::max<int>(1, int(reads.size())));
      m_progress->setValue(done);
      m_progress->setFormat(tr("%1 of %2 reads submitted").arg(done).arg(reads.size()));
      m_status->setText(tr("Coordinator view of '%1': every read.").arg(qs(info.name)));
      const db::ReferenceRule rule = db::referenceRule(*database(), study);
      m_ruleLabel->setText(tr("Reference mask: %1").arg(qs(rule.details())));
      const QSignalBlocker blockRule(m_ruleBox);
      m_ruleBox->clear();
      m_ruleBox->addItem(tr("Latest approved"), QString("latest"));
      m_ruleBox->addItem(tr("Consensus"), QString("consensus"));
      for (const db::User& u : info.readers)
        m_ruleBox->addItem(tr("Reader %1").arg(qs(u.username)), "reader:" + qs(u.username));
      const QString key = rule.kind == db::ReferenceRuleKind::Reader ? "reader:" + qs(rule.readerName)
                                                                     : qs(db::to_string(rule.kind));
      m_ruleBox->setCurrentIndex(std::max(0, m_ruleBox->findData(key)));
      return;
    }
    const db::Worklist w = service()->worklist(study);
    m_model->setReads(w.reads);
    m_progress->setRange(0, std::max(1, w.total));
    m_progress->setValue(w.done);
    m_progress->setFormat(tr("%1 of %2 done, %3 locked").arg(w.done).arg(w.total).arg(w.locked));
    m_next->setEnabled(w.next.has_value());
    m_status->setText(w.next
                          ? tr("Next: read %1 (series %2).").arg(w.next->id).arg(w.next->seriesId)
                          : tr("Nothing to read now."));
  }
  catch (const std::exception& e)
  {
    fail(tr("Worklist"), e);
  }
}

int64_t ReaderStudyPanel::selectedReadId() const
{
  const QModelIndexList rows = m_table->selectionModel()->selectedRows();
  return rows.isEmpty() ? 0
                        : m_model->data(rows.first(), ReaderWorklistModel::ReadIdRole).toLongLong();
}

bool ReaderStudyPanel::openRead(int64_t readId)
{
  if (!service())
    return false;
  if (isCoordinator(*database()))
  {
    // Coordinators review; the blinding rule "a read is its reader's" stays for readers.
    m_status->setText(tr("Read %1 opened for review (read-only).").arg(readId));
    emit reviewRequested(readId);
    return true;
  }
  try
  {
    const db::ReadRecord r = service()->startRead(readId);
    m_openedRead = r.id;
    refreshWorklist();
    const int row = m_model->rowOf(r.id);
    if (row >= 0)
      m_table->selectRow(row);
    emit readOpened(r.id, r.seriesId);
    return true;
  }
  catch (const std::exception& e)
  {
    return fail(tr("Open read"), e);
  }
}

void ReaderStudyPanel::openNext()
{
  try
  {
    const db::Worklist w = service()->worklist(currentStudyId());
    if (!w.next)
    {
      m_status->setText(tr("Nothing to read now."));
      return;
    }
    openRead(w.next->id);
  }
  catch (const std::exception& e)
  {
    fail(tr("Open next"), e);
  }
}

void ReaderStudyPanel::openSelected()
{
  if (const int64_t id = selectedReadId())
    openRead(id);
}

int64_t ReaderStudyPanel::submitOpenedRead(const LabelMask& mask, const std::optional<LabelTable>& labels)
{
  try
  {
    const int64_t series = service()->read(m_openedRead).seriesId;
    const int64_t id = service()->submitRead(m_openedRead, mask, {}, labels);
    m_status->setText(tr("Read %1 submitted as mask version %2.").arg(m_openedRead).arg(id));
    m_openedRead = 0;
    refreshWorklist();
    emit studyChanged(series);
    return id;
  }
  catch (const std::exception& e)
  {
    fail(tr("Submit"), e);
    return 0;
  }
}

LabelTable ReaderStudyPanel::startingLabelTable(int64_t readId) const
{
  return service()->startingLabelTable(readId);
}

LabelMask ReaderStudyPanel::startingMask(int64_t readId) const
{
  return service()->startingMask(readId);
}

QString ReaderStudyPanel::readBanner(int64_t readId) const
{
  if (!service() || readId <= 0)
    return {};
  const db::ReadRecord r = service()->read(readId);
  if (r.state != db::ReadState::Returned)
    return {};
  QString text = tr("Returned by the coordinator: \u201c%1\u201d").arg(qs(r.comment));
  if (r.maskVersionId > 0)
    text += tr("  \u2014 your submitted version %1 is loaded; edit it and submit again.").arg(r.maskVersionId);
  return text;
}
Image ReaderStudyPanel::loadImage(int64_t seriesId) const
{
  return database()->loadImage(seriesId);
}

void ReaderStudyPanel::rateSelected()
{
  const db::ReadRecord* r = m_model->readAt(m_table->currentIndex().row());
  if (!r)
  {
    m_status->setText(tr("Select a case to rate."));
    return;
  }
  try
  {
    service()->rateAiMask(currentStudyId(), r->seriesId,
                     *db::parseAiRating(m_rating->currentText().toStdString()));
    refreshWorklist();
  }
  catch (const std::exception& e)
  {
    fail(tr("Rate AI mask"), e);
  }
}

void ReaderStudyPanel::approveSelected()
{
  try
  {
    const int64_t id = selectedReadId();
    service()->approveRead(id);
    refreshWorklist();
    emit studyChanged(service()->read(id).seriesId);
  }
  catch (const std::exception& e)
  {
    fail(tr("Approve"), e);
  }
}

int64_t ReaderStudyPanel::buildConsensusForSelected()
{
  const QModelIndexList rows = m_table->selectionModel()->selectedRows();
  const db::ReadRecord* read = rows.isEmpty() ? nullptr : m_model->readAt(rows.first().row());
  if (!service() || !read)
  {
    m_lastError = tr("Select a read of the case first.");
    m_status->setText(m_lastError);
    return 0;
  }
  try
  {
    const auto method = db::parseConsensusMethod(m_consensusMethod->currentData().toString().toStdString());
    const db::ConsensusResult r = service()->buildConsensusWithDetails(currentStudyId(), read->seriesId, *method);
    QString text = tr("Consensus (%1) of %2 reads saved as mask version %3.")
                       .arg(m_consensusMethod->currentText())
                       .arg(r.inputs.size())
                       .arg(r.maskVersionId);
    if (*method == db::ConsensusMethod::Staple)
      for (const db::ConsensusResult::Input& in : r.inputs)
        text += tr("\nRead %1 (%2): sensitivity %3, specificity %4")
                    .arg(in.readId)
                    .arg(QString::fromStdString(in.readerName))
                    .arg(in.sensitivity, 0, 'f', 4)
                    .arg(in.specificity, 0, 'f', 4);
    const int64_t series = read->seriesId; // (refreshWorklist replaces the rows `read` points into)
    refreshWorklist(); // (it rewrites the status line)
    m_status->setText(text);
    emit studyChanged(series);
    return r.maskVersionId;
  }
  catch (const std::exception& e)
  {
    fail(tr("Build consensus"), e);
    return 0;
  }
}

bool ReaderStudyPanel::setStudyReferenceRule()
{
  const int64_t study = currentStudyId();
  if (!database() || study <= 0)
  {
    m_lastError = tr("Choose a reader study first.");
    m_status->setText(m_lastError);
    return false;
  }
  const QString key = m_ruleBox->currentData().toString();
  try
  {
    const db::ReferenceRule rule =
      key.startsWith("reader:")
        ? db::setReferenceRule(*database(), db::ReferenceRuleKind::Reader, key.mid(7).toStdString(), study)
        : db::setReferenceRule(*database(), db::parseReferenceRuleKind(key.toStdString()).value_or(db::ReferenceRuleKind::Latest),
                               {}, study);
    refreshWorklist();
    m_status->setText(tr("This study's report now uses: %1.").arg(qs(rule.ruleText())));
    return true;
  }
  catch (const std::exception& e)
  {
    return fail(tr("Reference mask"), e);
  }
}

void ReaderStudyPanel::returnSelected()
{
  const int64_t id = selectedReadId();
  bool ok = false;
  const QString comment = QInputDialog::getText(
      this, tr("Return read"), tr("Comment for the reader:"), QLineEdit::Normal, {}, &ok);
  if (!ok)
    return;
  try
  {
    service()->returnRead(id, comment.toStdString());
    refreshWorklist();
    emit studyChanged(service()->read(id).seriesId);
  }
  catch (const std::exception& e)
  {
    fail(tr("Return"), e);
  }
}

bool ReaderStudyPanel::setAllowPrediction(bool allow)
{
  const int64_t study = currentStudyId();
  if (!service() || study <= 0)
    return false;
  try
  {
    service()->setAllowPrediction(study, allow);
  }
  catch (const std::exception& e)
  {
    refreshWorklist(); // the box shows the stored setting again
    return fail(tr("Prediction during reads"), e);
  }
  refreshWorklist();
  m_status->setText(allow ? tr("Readers of this study may now run AI prediction during their reads.")
                          : tr("Readers of this study can no longer run AI prediction during their reads."));
  emit studySettingsChanged(study);
  return true;
}

void ReaderStudyPanel::createStudyDialog()
{
  QDialog dlg(this);
  dlg.setObjectName("newReaderStudyDialog");
  dlg.setWindowTitle(tr("New reader study"));
  auto* name = new QLineEdit;
  name->setObjectName("name");
  auto* design = new QComboBox;
  design->addItems({"inter", "intra", "ai-review"});
  auto* washout = new QSpinBox;
  washout->setRange(0, 365);
  washout->setValue(28);
  auto* start = new QComboBox;
  start->addItems({"scratch", "ai"});
  auto* allowPrediction = new QCheckBox(tr("Allow AI prediction during from-scratch reads"));
  allowPrediction->setObjectName("allowPrediction");
  allowPrediction->setToolTip(tr("Off by default: readers who start from scratch must not see the AI's answer"));
  auto sync = [design, start, allowPrediction]
  {
    const bool scratch = start->currentText() == "scratch" && design->currentText() != "ai-review";
    allowPrediction->setEnabled(scratch);
    if (!scratch)
      allowPrediction->setChecked(false);
  };
  connect(design, &QComboBox::currentTextChanged, &dlg, sync);
  connect(start, &QComboBox::currentTextChanged, &dlg, sync);
  auto* readers = new QLineEdit;
  readers->setObjectName("readers");
  readers->setPlaceholderText(tr("alice, bob"));
  auto* modality = new QComboBox;
  modality->addItems({tr("any"), "CT", "MRI", "MRI-T1W", "MRI-T2W"});
  auto* center = new QLineEdit;
  center->setPlaceholderText(tr("any"));
  auto* form = new QFormLayout(&dlg);
  form->addRow(tr("Name"), name);
  form->addRow(tr("Design"), design);
  form->addRow(tr("Wash-out (days)"), washout);
  form->addRow(tr("Readers start from"), start);
  form->addRow(QString(), allowPrediction);
  form->addRow(tr("Readers (comma separated)"), readers);
  form->addRow(tr("Series modality"), modality);
  form->addRow(tr("Series center"), center);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, &dlg, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
  if (dlg.exec() != QDialog::Accepted)
    return;
  try
  {
    db::NewReaderStudy s;
    s.name = name->text().trimmed().toStdString();
    s.design = *db::parseStudyDesign(design->currentText().toStdString());
    s.washoutDays = washout->value();
    s.startFrom = *db::parseStartFrom(start->currentText().toStdString());
    s.allowPrediction = allowPrediction->isChecked();
    for (const QString& r : readers->text().split(',', Qt::SkipEmptyParts))
      s.readers.push_back(r.trimmed().toStdString());
    db::SeriesFilter f;
    if (modality->currentIndex() > 0)
    {
      f.modality = db::parseModality(modality->currentText().toStdString());
      f.anyMri = f.modality == db::Modality::Mri;
    }
    f.center = center->text().trimmed().toStdString();
    for (const auto& r : database()->listSeries(f))
      s.seriesIds.push_back(r.id);
    const int64_t id = service()->createStudy(s);
    refresh();
    selectStudy(id);
  }
  catch (const std::exception& e)
  {
    fail(tr("New reader study"), e);
  }
}

void ReaderStudyPanel::writeReportDialog()
{
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Write study report"), "study-report.pdf",
                                   tr("PDF (*.pdf);;HTML (*.html);;CSV (*.csv)"));
  if (path.isEmpty())
    return;
  try
  {
    const QString version = QCoreApplication::applicationVersion();
    writeStudyReport(db::computeStudyReport(*database(), currentStudyId()), path,
                     version.isEmpty() ? "(unknown)" : version);
    m_status->setText(tr("Report written to %1").arg(path));
  }
  catch (const std::exception& e)
  {
    fail(tr("Report"), e);
  }
}
QDialog* ReaderStudyPanel::showReport()
{
  const QString version = QCoreApplication::applicationVersion();
  Report report;
  try
  {
    report = buildStudyReport(db::computeStudyReport(*database(), currentStudyId()),
                              version.isEmpty() ? "(unknown)" : version);
  }
  catch (const std::exception& e)
  {
    fail(tr("Report"), e);
    return nullptr;
  }
  auto* dialog = new QDialog(this);
  dialog->setObjectName("studyReportViewer");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(report.title);
  auto* browser = new QTextBrowser(dialog);
  browser->setObjectName("studyReportText");
  loadIntoDocument(report, *browser->document());
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QPushButton* saveAs = buttons->addButton(tr("Save As..."), QDialogButtonBox::ActionRole);
  connect(saveAs, &QPushButton::clicked, this, &ReaderStudyPanel::writeReportDialog);
  connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
  auto* layout = new QVBoxLayout(dialog);
  layout->addWidget(browser);
  layout->addWidget(buttons);
  dialog->resize(1000, 800);
  // Open at the title: the document was set behind the browser's back, so its cursor (and with
  // it the view, once shown) would otherwise sit at the end of the report.
  browser->moveCursor(QTextCursor::Start);
  dialog->show();
  browser->verticalScrollBar()->setValue(0);
  return dialog;
}
} // namespace panseg::ui
