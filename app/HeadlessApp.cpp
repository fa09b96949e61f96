// The application object of the headless subcommands (Qt SQL loads its driver as a plugin; PDF
// needs a QGuiApplication). No subcommand may need a display or crash at exit:
//  * the GUI flavour always runs on the `offscreen` platform, whatever QT_QPA_PLATFORM says (with
//    QT_QPA_PLATFORM=xcb and no DISPLAY, QGuiApplication would abort; under a display it would
//    connect to the X server for nothing);
//  * the object lives on the heap and main() destroys it before it returns, after flushing
//    stdout, instead of a function-local static destroyed during exit() after Qt's own globals
//    (the QGuiApplication destructor and Qt SQL then crashed, and piped output was lost).
#include "Cli.h"

#include <QCoreApplication>
#include <QGuiApplication>

#include <cstdio>
#include <memory>

namespace panseg::cli
{
namespace
{
std::unique_ptr<QCoreApplication>& holder()
{
  static std::unique_ptr<QCoreApplication> app; // trivially destroyed when already released
  return app;
}
int g_argc = 1;
char g_name[] = "panseg";
char* g_argv[] = {g_name, nullptr};
} // namespace

void ensureHeadlessApplication(bool gui)
{
  QCoreApplication* existing = QCoreApplication::instance();
  if (existing && (!gui || qobject_cast<QGuiApplication*>(existing)))
    return;
  if (existing)
  {
    if (existing != holder().get())
      return; // someone else's (the GUI's): never replace it
    holder().reset(); // a core application made earlier in this process; PDF needs the GUI one
  }
  if (gui)
  {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    holder() = std::make_unique<QGuiApplication>(g_argc, g_argv);
  }
  else
    holder() = std::make_unique<QCoreApplication>(g_argc, g_argv);
}

void releaseHeadlessApplication()
{
  std::fflush(stdout);
  std::fflush(stderr);
  holder().reset();
}
} // namespace panseg::cli
