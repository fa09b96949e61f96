#pragma once
// File > Import Model...: an nnU-Net v1 result folder, v2 trained-model folder or v2 zip becomes a
// model package (and a registry row). The dialog only gathers the request and shows progress; the
// work is db::importModel (database/registry/ModelImport.h), which `panseg model import` calls too.
#include "database/registry/ModelImport.h"

#include <QDialog>
#include <QFutureWatcher>

#include <atomic>
#include <functional>
#include <memory>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace panseg::db
{
class StudyDatabase;
}

namespace panseg::ui
{
class ModelImportDialog : public QDialog
{
  Q_OBJECT
public:
  /// `registry` gives the study database to register in (may return null: no database open).
  explicit ModelImportDialog(std::function<db::StudyDatabase*()> registry, QWidget* parent = nullptr);
  ~ModelImportDialog() override;

  /// The request the form describes now (what Import would run).
  db::ModelImportRequest request() const;
  void setSource(const QString& path);
  /// Starts the import in the background (what the Import button does); false when the form is
  /// not valid (the reason is shown in the dialog).
  bool startImport();
  bool isImporting() const;
  /// Asks a running import to stop (Cancel while importing).
  void cancelImport();
  /// The outcome of the last import: the package folder, or empty with errorText().
  QString importedPackage() const { return m_result.packageDir; }
  const db::ModelImportResult& result() const { return m_result; }
  QString errorText() const { return m_error; }
  /// The field widgets, for tests and for the main window's defaults.
  QLineEdit* sourceEdit() const { return m_source; }
  QLineEdit* nameEdit() const { return m_name; }
  QLineEdit* outEdit() const { return m_out; }
  QComboBox* modalityBox() const { return m_modality; }
  QLineEdit* foldsEdit() const { return m_folds; }
  QCheckBox* registerBox() const { return m_register; }
  QCheckBox* replaceBox() const { return m_force; }

signals:
  /// A package was written (and registered when asked): the main window selects it.
  void imported(const QString& packageDir, const QString& summary);
  void importFailed(const QString& error);

protected:
  void reject() override;

private:
  void updateSourceState();
  void finishImport();
  void appendLog(const QString& line);

  std::function<db::StudyDatabase*()> m_registry;
  QLineEdit* m_source;
  QLabel* m_sourceState;
  QLineEdit* m_name;
  QLineEdit* m_version;
  QComboBox* m_modality;
  QLineEdit* m_folds;
  QLineEdit* m_out;
  QCheckBox* m_register;
  QCheckBox* m_force;
  QPlainTextEdit* m_log;
  QDialogButtonBox* m_buttons;
  QPushButton* m_importButton;
  struct Outcome
  {
    db::ModelImportResult result;
    QString error; // the one-line reason when the import failed
  };
  QFutureWatcher<Outcome> m_watcher;
  std::shared_ptr<std::atomic<bool>> m_cancel;
  db::ModelImportResult m_result;
  bool m_registerWanted = false;
  QString m_error;
};
} // namespace panseg::ui
