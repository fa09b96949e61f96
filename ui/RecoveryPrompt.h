#pragma once
// Crash recovery at start: when EditController's recovery file (unsaved mask edits autosaved
// before PanSeg ended) exists, asks whether to restore the edits. Restore reopens the image and
// shows the recovered mask (the file stays until the mask is saved); Discard deletes the file.
// Used by the GUI at start (app/GuiCommands.cpp) and by tests/edit/tst_edit_recovery.

#include <QString>

namespace panseg::ui
{
class MainWindow;

enum class RecoveryOutcome
{
  NoFile,       // nothing to recover
  Restored,     // image reopened, recovered mask shown
  Discarded,    // the user chose Discard: the file is deleted
  Unreadable,   // the file cannot be read (reported; kept)
  ImageMissing  // the image cannot be reopened (reported; kept)
};

/// The prompt is a QMessageBox titled "Recover unsaved edits" with the buttons "Restore" and
/// "Discard"; problems are reported in warning boxes of the same title.
RecoveryOutcome offerRecovery(MainWindow& w);
} // namespace panseg::ui
