#include "PacsDock.h"

#include "core/pacs/PacsProfile.h"
#include "core/Error.h"
#include "database/StudyDatabase.h"
#include "database/pacs/PacsService.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <set>

namespace panseg::ui
{
namespace
{
struct SearchOutcome
{
  std::vector<pacs::PacsRecord> records;
  QString error;
};
struct RetrieveOutcome
{
  int64_t lastSeriesId = 0;
  int retrieved = 0, present = 0;
  qint64 bytes = 0;
  bool cancelled = false;
  QString error;
};

QString isoDate(const QString& dicomDate)
{
  return dicomDate.size() == 8 ? dicomDate.left(4) + "-" + dicomDate.mid(4, 2) + "-" + dicomDate.mid(6, 2) : dicomDate;
}
} // namespace

PacsDock::PacsDock(std::function<db::StudyDatabase*()> database, QWidget* parent)
  : QWidget(parent), m_database(std::move(database))
{
  auto* layout = new QVBoxLayout(this);
  auto* serverRow = new QHBoxLayout;
  m_server = new QComboBox;
  m_server->setToolTip(tr("PACS profiles of this user (panseg pacs add; %1)").arg(pacs::profileFilePath()));
  auto* reload = new QPushButton(tr("Reload"));
  reload->setToolTip(tr("Read the PACS profiles again"));
  serverRow->addWidget(new QLabel(tr("PACS:")));
  serverRow->addWidget(m_server, 1);
  serverRow->addWidget(reload);
  layout->addLayout(serverRow);

  auto* form = new QFormLayout;
  m_patientName = new QLineEdit;
  m_patientName->setPlaceholderText(tr("DOE* (wildcards * and ?)"));
  m_patientId = new QLineEdit;
  m_date = new QLineEdit;
  m_date->setPlaceholderText(tr("20240101-20241231, one date, FROM- or -TO"));
  m_modality = new QLineEdit;
  m_modality->setPlaceholderText(tr("CT, MR, ..."));
  m_accession = new QLineEdit;
  m_level = new QComboBox;
  m_level->addItem(tr("Studies"), "study");
  m_level->addItem(tr("Series"), "series");
  form->addRow(tr("Patient name"), m_patientName);
  form->addRow(tr("Patient ID"), m_patientId);
  form->addRow(tr("Date"), m_date);
  form->addRow(tr("Modality"), m_modality);
  form->addRow(tr("Accession"), m_accession);
  form->addRow(tr("Level"), m_level);
  layout->addLayout(form);

  auto* buttons = new QHBoxLayout;
  m_search = new QPushButton(tr("Search"));
  m_search->setDefault(true);
  m_retrieve = new QPushButton(tr("Retrieve"));
  m_retrieve->setToolTip(tr("Bring the selected series (a study: all its series) into the study database and open it"));
  m_retrievePredict = new QPushButton(tr("Retrieve and predict"));
  m_retrievePredict->setToolTip(tr("Retrieve, open and run Predict Pancreas on it"));
  m_cancel = new QPushButton(tr("Cancel"));
  buttons->addWidget(m_search);
  buttons->addWidget(m_retrieve);
  buttons->addWidget(m_retrievePredict);
  buttons->addWidget(m_cancel);
  layout->addLayout(buttons);
  m_send = new QPushButton(tr("Send mask to PACS"));
  m_send->setToolTip(tr("Store the approved mask version selected in Studies as DICOM SEG on this PACS"));
  layout->addWidget(m_send);

  m_table = new QTableWidget(0, 7);
  // The "in database" mark comes first, so that a narrow dock still shows it.
  m_table->setHorizontalHeaderLabels({ tr("In DB"), tr("Patient"), tr("ID"), tr("Date"), tr("Modality"),
                                       tr("Description"), tr("Instances") });
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->verticalHeader()->hide();
  m_table->horizontalHeader()->setStretchLastSection(false);
  m_table->horizontalHeader()->setSectionResizeMode(5, QHeaderView::Stretch);
  layout->addWidget(m_table, 1);
  m_progress = new QProgressBar;
  m_progress->setVisible(false);
  layout->addWidget(m_progress);
  m_status = new QLabel;
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(m_status);

  connect(reload, &QPushButton::clicked, this, &PacsDock::reloadProfiles);
  connect(m_search, &QPushButton::clicked, this, &PacsDock::search);
  for (QLineEdit* e : { m_patientName, m_patientId, m_date, m_modality, m_accession })
    connect(e, &QLineEdit::returnPressed, this, &PacsDock::search);
  connect(m_retrieve, &QPushButton::clicked, this, [this] { retrieveSelected(false); });
  connect(m_retrievePredict, &QPushButton::clicked, this, [this] { retrieveSelected(true); });
  connect(m_cancel, &QPushButton::clicked, this, &PacsDock::cancel);
  connect(m_send, &QPushButton::clicked, this, &PacsDock::sendMask);
  connect(m_table, &QTableWidget::itemSelectionChanged, this, &PacsDock::updateButtons);
  // A double click on a study lists its series.
  connect(m_table, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
    if (m_busy || row < 0 || size_t(row) >= m_records.size() || m_records[size_t(row)].level != pacs::Level::Study)
      return;
    const QString study = m_records[size_t(row)].studyUid;
    m_level->setCurrentIndex(1);
    for (QLineEdit* e : { m_patientName, m_patientId, m_date, m_modality, m_accession })
      e->clear();
    setProperty("studyFilter", study);
    search();
  });
  reloadProfiles();
  updateButtons();
}

PacsDock::~PacsDock()
{
  // A running retrieve stops after its current file and rolls back (its own database connection,
  // its own flag); its result has nowhere to go.
  *m_cancelFlag = true;
}

void PacsDock::reloadProfiles()
{
  const QString current = m_server->currentText();
  m_server->clear();
  try
  {
    for (const pacs::PacsProfile& p : pacs::ProfileStore().list())
    {
      m_server->addItem(p.name);
      m_server->setItemData(m_server->count() - 1, p.summary(), Qt::ToolTipRole);
    }
    if (m_server->count() == 0)
      m_status->setText(tr("No PACS profile yet: add one with `panseg pacs add NAME --url URL ...` (%1)")
                          .arg(pacs::profileFilePath()));
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromStdString(e.what()));
  }
  const int i = m_server->findText(current);
  if (i >= 0)
    m_server->setCurrentIndex(i);
  updateButtons();
}

pacs::PacsProfile PacsDock::currentProfile() const
{
  return pacs::ProfileStore().get(m_server->currentText());
}

void PacsDock::setBusy(bool busy, const QString& message)
{
  m_busy = busy;
  m_status->setText(message);
  m_progress->setVisible(busy);
  if (busy)
    m_progress->setRange(0, 0);
  updateButtons();
}

void PacsDock::updateButtons()
{
  const bool haveServer = m_server->count() > 0;
  const bool selection = !m_table->selectionModel()->selectedRows().isEmpty();
  m_search->setEnabled(!m_busy && haveServer);
  m_retrieve->setEnabled(!m_busy && selection && m_database && m_database());
  m_retrievePredict->setEnabled(m_retrieve->isEnabled());
  m_cancel->setEnabled(m_busy);
  m_send->setEnabled(!m_busy && haveServer && m_database && m_database());
}

bool PacsDock::waitForIdle(int timeoutMs)
{
  QElapsedTimer t;
  t.start();
  while (m_busy && t.elapsed() < timeoutMs)
  {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    QThread::msleep(5);
  }
  return !m_busy;
}

void PacsDock::search()
{
  if (m_busy || m_server->count() == 0)
    return;
  pacs::QueryFilter f;
  f.level = m_level->currentData().toString() == "series" ? pacs::Level::Series : pacs::Level::Study;
  f.patientName = m_patientName->text().trimmed();
  f.patientId = m_patientId->text().trimmed();
  f.modality = m_modality->text().trimmed().toUpper();
  f.accession = m_accession->text().trimmed();
  f.studyUid = property("studyFilter").toString();
  setProperty("studyFilter", QVariant());
  pacs::PacsProfile profile;
  try
  {
    if (!m_date->text().trimmed().isEmpty())
      f.dateRange = pacs::normalizeDateRange(m_date->text());
    profile = currentProfile();
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromStdString(e.what()));
    return;
  }
  setBusy(true, tr("Searching %1...").arg(profile.name));
  auto* watcher = new QFutureWatcher<SearchOutcome>(this);
  connect(watcher, &QFutureWatcher<SearchOutcome>::finished, this, [this, watcher, f] {
    const SearchOutcome o = watcher->result();
    watcher->deleteLater();
    if (!o.error.isEmpty())
    {
      setBusy(false, o.error);
      return;
    }
    m_records = o.records;
    showRecords();
    setBusy(false, tr("%n result(s)", nullptr, int(m_records.size())) +
                     (f.level == pacs::Level::Study ? tr(" (double-click a study for its series)") : QString()));
  });
  watcher->setFuture(QtConcurrent::run([profile, f]() {
    SearchOutcome o;
    try
    {
      o.records = pacs::makeClient(profile)->find(f);
    }
    catch (const std::exception& e)
    {
      o.error = QString::fromStdString(e.what());
    }
    return o;
  }));
}

void PacsDock::showRecords()
{
  std::set<std::string> seriesInDb, studiesInDb;
  if (m_database && m_database())
    for (const auto& s : m_database()->listSeries())
    {
      seriesInDb.insert(s.seriesInstanceUid);
      studiesInDb.insert(s.studyInstanceUid);
    }
  m_table->clearContents();
  m_table->setRowCount(int(m_records.size()));
  for (size_t i = 0; i < m_records.size(); ++i)
  {
    const pacs::PacsRecord& r = m_records[i];
    const bool series = r.level == pacs::Level::Series;
    const bool inDb = series ? seriesInDb.count(r.seriesUid.toStdString()) > 0
                             : studiesInDb.count(r.studyUid.toStdString()) > 0;
    const QStringList cells{ inDb ? QString::fromUtf8("\u2713") : QString(),
                             QString(r.patientName).replace('^', ' ').trimmed(),
                             r.patientId,
                             isoDate(r.studyDate),
                             r.modality,
                             series && r.seriesNumber >= 0 ? QString("#%1 %2").arg(r.seriesNumber).arg(r.description)
                                                           : r.description,
                             r.instances >= 0 ? QString::number(r.instances) : QString() };
    for (int c = 0; c < cells.size(); ++c)
    {
      auto* item = new QTableWidgetItem(cells[c]);
      item->setToolTip(series ? tr("series %1").arg(r.seriesUid) : tr("study %1").arg(r.studyUid));
      if (c == 0 && inDb)
        item->setToolTip(series ? tr("this series is in the study database") : tr("a series of this study is in the study database"));
      m_table->setItem(int(i), c, item);
    }
  }
  m_table->resizeColumnsToContents();
  updateButtons();
}

void PacsDock::retrieveSelected(bool thenPredict)
{
  if (m_busy || !m_database || !m_database())
    return;
  std::vector<pacs::PacsRecord> targets;
  for (const QModelIndex& index : m_table->selectionModel()->selectedRows())
    if (size_t(index.row()) < m_records.size())
      targets.push_back(m_records[size_t(index.row())]);
  if (targets.empty())
    return;
  pacs::PacsProfile profile;
  try
  {
    profile = currentProfile();
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromStdString(e.what()));
    return;
  }
  db::StudyDatabase* gui = m_database();
  db::StudyDatabase::OpenOptions options;
  options.username = gui->currentUser().username;
  options.sweepOrphans = false;
  const std::string folder = gui->dataFolder();
  m_cancelFlag = std::make_shared<std::atomic<bool>>(false);
  setBusy(true, tr("Retrieving from %1...").arg(profile.name));
  QPointer<PacsDock> self(this);
  auto* watcher = new QFutureWatcher<RetrieveOutcome>(this);
  connect(watcher, &QFutureWatcher<RetrieveOutcome>::finished, this, [this, watcher, thenPredict] {
    const RetrieveOutcome o = watcher->result();
    watcher->deleteLater();
    showRecords(); // the "in database" marks
    if (o.cancelled)
      setBusy(false, tr("Retrieve cancelled; nothing was imported from the series in progress"));
    else if (!o.error.isEmpty())
      setBusy(false, o.error);
    else
      setBusy(false, tr("%1 series retrieved (%2 MB), %3 already in the database")
                       .arg(o.retrieved)
                       .arg(o.bytes / 1e6, 0, 'f', 1)
                       .arg(o.present));
    if (o.lastSeriesId > 0 && !o.cancelled && o.error.isEmpty())
      emit seriesRetrieved(o.lastSeriesId, thenPredict);
  });
  std::shared_ptr<std::atomic<bool>> cancel = m_cancelFlag;
  watcher->setFuture(QtConcurrent::run([self, profile, targets, folder, options, cancel]() {
    RetrieveOutcome o;
    try
    {
      db::StudyDatabase database(folder, options);
      auto client = pacs::makeClient(profile);
      std::vector<std::pair<QString, QString>> series; // study, series
      for (const pacs::PacsRecord& t : targets)
      {
        if (t.level == pacs::Level::Series)
        {
          series.emplace_back(t.studyUid, t.seriesUid);
          continue;
        }
        pacs::QueryFilter f;
        f.level = pacs::Level::Series;
        f.studyUid = t.studyUid;
        for (const pacs::PacsRecord& s : client->find(f))
          series.emplace_back(t.studyUid, s.seriesUid);
      }
      int index = 0;
      for (const auto& [study, uid] : series)
      {
        ++index;
        db::PacsRetrieveOptions ro;
        ro.studyUid = study;
        ro.cancel = cancel.get();
        const int total = int(series.size());
        ro.progress = [self, index, total](const pacs::TransferProgress& p) {
          QMetaObject::invokeMethod(
              self.data(),
              [self, index, total, p] {
                if (!self)
                  return;
                if (p.expectedFiles > 0)
                {
                  self->m_progress->setRange(0, p.expectedFiles);
                  self->m_progress->setValue(p.files);
                }
                self->m_status->setText(tr("Series %1 of %2: %3 file(s), %4 MB")
                                          .arg(index)
                                          .arg(total)
                                          .arg(p.files)
                                          .arg(p.bytes / 1e6, 0, 'f', 1));
              },
              Qt::QueuedConnection);
        };
        const db::PacsRetrieveResult r = db::retrieveSeries(database, *client, uid, ro);
        if (r.seriesId > 0)
          o.lastSeriesId = r.seriesId;
        (r.alreadyPresent || r.duplicateContent ? o.present : o.retrieved) += 1;
        o.bytes += r.bytes;
      }
    }
    catch (const pacs::Cancelled&)
    {
      o.cancelled = true;
    }
    catch (const std::exception& e)
    {
      o.error = QString::fromStdString(e.what());
    }
    return o;
  }));
}

void PacsDock::sendMask()
{
  if (m_busy || !m_database || !m_database())
    return;
  const int64_t id = m_maskProvider ? m_maskProvider() : 0;
  db::StudyDatabase* gui = m_database();
  pacs::PacsProfile profile;
  try
  {
    if (id <= 0)
      throw Error("select a mask version in Studies first");
    const auto version = gui->maskVersion(id);
    if (!version)
      throw Error("mask version " + std::to_string(id) + " is not in the study database");
    if (version->state != db::MaskState::Approved)
      throw Error("mask version " + std::to_string(id) + " is " + db::to_string(version->state) +
                  "; only approved masks are sent to the PACS (approve it first)");
    profile = currentProfile();
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromStdString(e.what()));
    return;
  }
  db::StudyDatabase::OpenOptions options;
  options.username = gui->currentUser().username;
  options.sweepOrphans = false;
  const std::string folder = gui->dataFolder();
  setBusy(true, tr("Sending mask version %1 to %2...").arg(id).arg(profile.name));
  struct SendOutcome
  {
    QString message;
    bool ok = false;
  };
  auto* watcher = new QFutureWatcher<SendOutcome>(this);
  connect(watcher, &QFutureWatcher<SendOutcome>::finished, this, [this, watcher] {
    const SendOutcome o = watcher->result();
    watcher->deleteLater();
    setBusy(false, o.message);
  });
  watcher->setFuture(QtConcurrent::run([profile, folder, options, id]() {
    SendOutcome o;
    try
    {
      db::StudyDatabase database(folder, options);
      auto client = pacs::makeClient(profile);
      const db::PacsSendResult r = db::sendMaskVersion(database, *client, id);
      o.ok = true;
      o.message = tr("Sent mask version %1 to %2 as DICOM SEG (%3 segment(s), %4 frame(s))")
                    .arg(id)
                    .arg(profile.name)
                    .arg(r.segments)
                    .arg(r.frames);
    }
    catch (const std::exception& e)
    {
      o.message = QString::fromStdString(e.what());
    }
    return o;
  }));
}

void PacsDock::cancel()
{
  *m_cancelFlag = true;
  if (m_busy)
    m_status->setText(tr("Cancelling..."));
}
} // namespace panseg::ui
