#pragma once
// The Jobs dock and the "Fine-tune model..." dialog (docs/fine-tuning.md). Both only show state and
// forward input: the table is db::JobTableModel, cancelling is db::requestJobCancel, and a
// fine-tuning job is `panseg train --db ...` started detached (trainCommandArguments), so that it
// keeps running when the GUI closes and shows up again in the dock on reopening.
#include "database/registry/ModelCatalog.h"

#include <QDialog>
#include <QString>
#include <QStringList>
#include <QPointer>
#include <QWidget>
#include <memory>

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableView;
class QTimer;

namespace panseg::db
{
class JobTableModel;
class StudyDatabase;
class WorkstationSession;
} // namespace panseg::db

namespace panseg::ui
{
class TrainingCurveView;

/// What the dialog asks for.
struct FineTuneRequest
{
  QString dataFolder; // study database folder
  QString baseModel;  // package folder or registry id
  QString modality;   // empty = any
  QString center;     // empty = any
  int epochs = 10;
  int iterations = 50;
  QString outDir;
};
/// `panseg` arguments for a request (no widgets involved; tested headless).
QStringList trainCommandArguments(const FineTuneRequest& request);
/// Starts `panseg train` detached (it outlives the GUI). False with `error` when it cannot start.
bool startDetachedTraining(const FineTuneRequest& request, QString* error, qint64* pid = nullptr);

class JobsDock : public QWidget
{
  Q_OBJECT
public:
  /// Polls the job table of the session's database (the workstation's shared connection): every
  /// kVisiblePollMs while shown, kHiddenPollMs while hidden.
  explicit JobsDock(db::WorkstationSession* session, QWidget* parent = nullptr);
  /// The same on a session of its own, opened on `dataFolder` (tests, tools).
  explicit JobsDock(const QString& dataFolder, QWidget* parent = nullptr);
  static constexpr int kVisiblePollMs = 1500;
  static constexpr int kHiddenPollMs = 5000;
  ~JobsDock() override;
  void refresh();
  db::JobTableModel* model() const { return m_model; }
  /// The loss / validation Dice chart of the selected job (empty when none is selected).
  TrainingCurveView* curveView() const { return m_curve; }
  /// Selects the job in `row` of model() (the chart follows).
  void selectRow(int row);

protected:
  void showEvent(QShowEvent* e) override;
  void hideEvent(QHideEvent* e) override;

private:
  void cancelSelected();
  void updateCurve();
  QString m_dataFolder; // the own session's folder (JobsDock(dataFolder))
  QPointer<db::WorkstationSession> m_session;
  std::unique_ptr<db::WorkstationSession> m_ownSession;
  db::JobTableModel* m_model = nullptr;
  QTableView* m_view = nullptr;
  TrainingCurveView* m_curve = nullptr;
  QLabel* m_status = nullptr;
  QTimer* m_timer = nullptr;
};

class FineTuneDialog : public QDialog
{
  Q_OBJECT
public:
  /// `models`: the packages offered as base models (db::listModelPackages); the field stays
  /// editable for another folder or a registry id. The base model's type (PanSegNet or PNet-MSA)
  /// decides what the job trains; it is shown under the field.
  FineTuneDialog(const QString& dataFolder, const QString& defaultBaseModel,
                 const QStringList& centers, const std::vector<db::ModelCatalogEntry>& models = {},
                 QWidget* parent = nullptr);
  FineTuneRequest request() const;
  /// The base model: the chosen package's folder, or the text typed.
  QString baseModel() const;

private:
  void updateModelType();

  QString m_dataFolder;
  QComboBox* m_base = nullptr;
  QLabel* m_modelType = nullptr;
  QComboBox* m_modality = nullptr;
  QComboBox* m_center = nullptr;
  QSpinBox* m_epochs = nullptr;
  QSpinBox* m_iters = nullptr;
  QLineEdit* m_out = nullptr;
};
} // namespace panseg::ui
