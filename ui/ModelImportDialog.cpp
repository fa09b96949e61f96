#include "ui/ModelImportDialog.h"

#include "database/StudyDatabase.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace panseg::ui
{
ModelImportDialog::ModelImportDialog(std::function<db::StudyDatabase*()> registry, QWidget* parent)
    : QDialog(parent), m_registry(std::move(registry))
{
  setWindowTitle(tr("Import Model"));
  setObjectName(QStringLiteral("modelImportDialog"));
  auto* form = new QFormLayout;

  m_source = new QLineEdit(this);
  m_source->setObjectName(QStringLiteral("source"));
  m_source->setPlaceholderText(tr("nnU-Net result folder or nnU-Net v2 model zip"));
  auto* folder = new QPushButton(tr("Folder..."), this);
  auto* zip = new QPushButton(tr("Zip..."), this);
  auto* sourceRow = new QHBoxLayout;
  sourceRow->addWidget(m_source, 1);
  sourceRow->addWidget(folder);
  sourceRow->addWidget(zip);
  form->addRow(tr("Trained model:"), sourceRow);
  m_sourceState = new QLabel(this);
  m_sourceState->setObjectName(QStringLiteral("sourceState"));
  m_sourceState->setWordWrap(true);
  form->addRow(QString(), m_sourceState);

  m_name = new QLineEdit(this);
  m_name->setObjectName(QStringLiteral("name"));
  form->addRow(tr("Name:"), m_name);
  m_version = new QLineEdit(QStringLiteral("1"), this);
  form->addRow(tr("Version:"), m_version);
  m_modality = new QComboBox(this);
  m_modality->addItem(tr("From the model's dataset"), QString());
  m_modality->addItem(QStringLiteral("CT"), QStringLiteral("CT"));
  m_modality->addItem(QStringLiteral("MR"), QStringLiteral("MR"));
  form->addRow(tr("Modality:"), m_modality);
  m_folds = new QLineEdit(this);
  m_folds->setObjectName(QStringLiteral("folds"));
  m_folds->setPlaceholderText(tr("all folds found (averaged, as nnU-Net predicts)"));
  m_folds->setToolTip(tr("Fold numbers separated by commas, e.g. 0,2. Prediction time grows with the folds."));
  form->addRow(tr("Folds:"), m_folds);
  m_out = new QLineEdit(this);
  m_out->setObjectName(QStringLiteral("out"));
  form->addRow(tr("Package folder:"), m_out);
  m_register = new QCheckBox(tr("Register in the study database (lineage, promotion as a default)"), this);
  m_register->setChecked(true);
  form->addRow(QString(), m_register);
  m_force = new QCheckBox(tr("Replace an existing package in that folder"), this);
  form->addRow(QString(), m_force);

  m_log = new QPlainTextEdit(this);
  m_log->setReadOnly(true);
  m_log->setMaximumBlockCount(500);
  m_log->setMinimumHeight(120);
  m_buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  m_importButton = m_buttons->addButton(tr("&Import"), QDialogButtonBox::AcceptRole);
  m_importButton->setObjectName(QStringLiteral("importButton"));

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(m_log, 1);
  layout->addWidget(m_buttons);
  resize(720, 520);

  connect(folder, &QPushButton::clicked, this,
          [this]
          {
            const QString dir = QFileDialog::getExistingDirectory(this, tr("nnU-Net Result Folder"), m_source->text());
            if (!dir.isEmpty())
              setSource(dir);
          });
  connect(zip, &QPushButton::clicked, this,
          [this]
          {
            const QString f = QFileDialog::getOpenFileName(this, tr("nnU-Net v2 Model Zip"), m_source->text(),
                                                           tr("Zip archives (*.zip)"));
            if (!f.isEmpty())
              setSource(f);
          });
  connect(m_source, &QLineEdit::textChanged, this, &ModelImportDialog::updateSourceState);
  connect(m_name, &QLineEdit::textChanged, this, &ModelImportDialog::updateSourceState);
  connect(m_importButton, &QPushButton::clicked, this, [this] { startImport(); });
  connect(m_buttons, &QDialogButtonBox::rejected, this, &ModelImportDialog::reject);
  connect(&m_watcher, &QFutureWatcher<Outcome>::finished, this, &ModelImportDialog::finishImport);
  if (!m_registry || !m_registry())
  {
    m_register->setChecked(false);
    m_register->setEnabled(false);
    m_register->setToolTip(tr("No study database is open."));
  }
  updateSourceState();
}

ModelImportDialog::~ModelImportDialog()
{
  if (m_cancel)
    m_cancel->store(true);
  if (m_watcher.isRunning())
    m_watcher.waitForFinished(); // the child is stopped within 200 ms (runHelper)
}

void ModelImportDialog::setSource(const QString& path) { m_source->setText(path); }

void ModelImportDialog::updateSourceState()
{
  const QString src = m_source->text().trimmed();
  if (src.isEmpty())
  {
    m_sourceState->setText(tr("Choose the folder nnU-Net trained (with fold_0, fold_1, ...) or a v2 model zip."));
    m_sourceState->setStyleSheet(QString());
    m_importButton->setEnabled(false);
    return;
  }
  QString resolved;
  try
  {
    const QString kind = db::describeModelSource(src, &resolved);
    m_sourceState->setText(resolved == QDir::cleanPath(QFileInfo(src).absoluteFilePath())
                               ? kind
                               : tr("%1: %2").arg(kind, resolved));
    m_sourceState->setStyleSheet(QStringLiteral("color: #1b7a1b;"));
    m_importButton->setEnabled(!isImporting());
    db::ModelImportRequest r;
    r.name = m_name->text();
    m_out->setPlaceholderText(db::packageDirFor(r, resolved)); // the folder Import would use
  }
  catch (const std::exception& e)
  {
    m_sourceState->setText(QString::fromUtf8(e.what()));
    m_sourceState->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_importButton->setEnabled(false);
  }
}

db::ModelImportRequest ModelImportDialog::request() const
{
  db::ModelImportRequest r;
  r.source = m_source->text().trimmed();
  r.name = m_name->text().trimmed();
  r.version = m_version->text().trimmed().isEmpty() ? QStringLiteral("1") : m_version->text().trimmed();
  r.modality = m_modality->currentData().toString();
  r.folds = m_folds->text().trimmed();
  r.outDir = m_out->text().trimmed();
  r.force = m_force->isChecked();
  r.registerModel = m_register->isChecked() && m_register->isEnabled();
  return r;
}

bool ModelImportDialog::isImporting() const { return m_watcher.isRunning(); }

bool ModelImportDialog::startImport()
{
  if (isImporting())
    return false;
  m_error.clear();
  m_result = {};
  db::ModelImportRequest r = request();
  try
  {
    QString resolved;
    db::describeModelSource(r.source, &resolved);
    r.outDir = db::packageDirFor(r, resolved); // the placeholder's folder, fixed before the thread starts
  }
  catch (const std::exception& e)
  {
    m_error = QString::fromUtf8(e.what());
    appendLog(tr("Error: %1").arg(m_error));
    return false;
  }
  m_log->clear();
  appendLog(tr("Importing %1 into %2 ...").arg(r.source, r.outDir));
  m_cancel = std::make_shared<std::atomic<bool>>(false);
  m_importButton->setEnabled(false);
  m_buttons->button(QDialogButtonBox::Close)->setText(tr("Cancel"));
  auto cancel = m_cancel;
  QPointer<ModelImportDialog> self(this);
  // The conversion runs in the pool; registering needs this thread's database connection.
  db::ModelImportRequest threadRequest = r;
  threadRequest.registerModel = false;
  // Errors come back as text: an exception must not cross the thread (QtConcurrent would wrap it
  // and lose its message).
  m_watcher.setFuture(QtConcurrent::run(
      [threadRequest, cancel, self]
      {
        Outcome out;
        try
        {
          out.result = db::importModel(threadRequest, nullptr,
                                       [self](const QString& line)
                                       {
                                         QMetaObject::invokeMethod(
                                             qApp,
                                             [self, line]
                                             {
                                               if (self)
                                                 self->appendLog(line);
                                             },
                                             Qt::QueuedConnection);
                                       },
                                       cancel.get());
        }
        catch (const std::exception& e)
        {
          out.error = QString::fromUtf8(e.what());
        }
        return out;
      }));
  m_registerWanted = r.registerModel;
  return true;
}

void ModelImportDialog::cancelImport()
{
  if (m_cancel && isImporting())
  {
    m_cancel->store(true);
    appendLog(tr("Cancelling..."));
  }
}

void ModelImportDialog::reject()
{
  if (isImporting())
  {
    cancelImport();
    return;
  }
  QDialog::reject();
}

void ModelImportDialog::finishImport()
{
  m_buttons->button(QDialogButtonBox::Close)->setText(tr("Close"));
  try
  {
    const Outcome out = m_watcher.result();
    if (!out.error.isEmpty())
      throw std::runtime_error(out.error.toStdString());
    m_result = out.result;
    if (m_registerWanted)
    {
      db::StudyDatabase* database = m_registry ? m_registry() : nullptr;
      if (!database)
        throw std::runtime_error("the package was written to " + m_result.packageDir.toStdString() +
                                 " but not registered: the study database was closed meanwhile");
      db::registerImportedModel(m_result, *database);
    }
  }
  catch (const std::exception& e)
  {
    m_error = QString::fromUtf8(e.what());
    // The converter speaks command line; here the option is the Replace box.
    m_error.replace(QStringLiteral("(use --force to replace a package)"),
                    tr("(tick \"Replace an existing package in that folder\" to replace it)"));
    appendLog(tr("Error: %1").arg(m_error));
    updateSourceState();
    emit importFailed(m_error);
    return;
  }
  QString summary = tr("%1 version %2 (%3) in %4")
                        .arg(m_result.modelId, m_result.version,
                             m_result.folds == 1 ? tr("1 fold") : tr("%1 folds averaged").arg(m_result.folds),
                             m_result.packageDir);
  if (m_result.modelVersionId > 0)
    summary += tr("; registered as model version %1").arg(m_result.modelVersionId);
  appendLog(tr("Imported: %1").arg(summary));
  updateSourceState();
  emit imported(m_result.packageDir, summary);
}

void ModelImportDialog::appendLog(const QString& line) { m_log->appendPlainText(line); }
} // namespace panseg::ui
