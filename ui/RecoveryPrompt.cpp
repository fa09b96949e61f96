#include "RecoveryPrompt.h"

#include "EditController.h"
#include "MainWindow.h"

#include "core/edit/RecoveryFile.h"

#include <QDateTime>
#include <QFileInfo>
#include <QMessageBox>
#include <QPushButton>
#include <QStatusBar>

namespace panseg::ui
{
RecoveryOutcome offerRecovery(MainWindow& w)
{
  EditController* edit = w.editController();
  const QString path = edit ? edit->recoveryFilePath() : QString();
  if (path.isEmpty() || !QFileInfo::exists(path))
    return RecoveryOutcome::NoFile;
  const QString title = QObject::tr("Recover unsaved edits");
  edit::Recovery r;
  try
  {
    r = edit::readRecoveryFile(path.toStdString());
  }
  catch (const std::exception& e)
  {
    QMessageBox::warning(&w, title,
                         QObject::tr("A recovery file exists but cannot be read (kept at %1): %2")
                           .arg(path, QString::fromUtf8(e.what())));
    return RecoveryOutcome::Unreadable;
  }
  const QString when = QDateTime::fromMSecsSinceEpoch(r.savedAtMs).toString(Qt::ISODate);
  QMessageBox box(QMessageBox::Question, title,
                  QObject::tr("PanSeg ended with unsaved mask edits (autosaved %1) of\n%2\n%3\n\nRestore them? "
                              "(Discard deletes the recovery file.)")
                    .arg(when, QString::fromStdString(r.imagePath), QString::fromStdString(r.note)),
                  QMessageBox::NoButton, &w);
  box.setObjectName("recoveryPrompt");
  QPushButton* restore = box.addButton(QObject::tr("Restore"), QMessageBox::AcceptRole);
  box.addButton(QObject::tr("Discard"), QMessageBox::DestructiveRole);
  box.setDefaultButton(restore);
  box.exec();
  if (box.clickedButton() != restore)
  {
    edit->discardRecovery();
    return RecoveryOutcome::Discarded;
  }
  QString error;
  if (!w.loadImageBlocking(QString::fromStdString(r.imagePath), &error))
  {
    QMessageBox::warning(&w, title,
                         QObject::tr("Cannot reopen the image (%1). The recovery file is kept at %2.").arg(error, path));
    return RecoveryOutcome::ImageMissing;
  }
  // The file stays until the restored mask is saved (or discarded at the next start).
  w.setMask(std::move(r.mask));
  w.statusBar()->showMessage(QObject::tr("Restored unsaved edits from %1; save them as a new version.").arg(when));
  return RecoveryOutcome::Restored;
}
} // namespace panseg::ui
