# Mask editing: core/edit tools headless; the editing GUI under xvfb.
panseg_add_test(tst_edit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit.cpp LIBS panseg_core)
if(TARGET panseg_ui)
  panseg_add_test(tst_edit_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit_gui.cpp
                  LIBS panseg_ui panseg_database GUI)
endif()
# Crash recovery with a real SIGKILL of a child main window (docs/editing.md).
if(TARGET panseg_ui)
  panseg_add_test(tst_edit_recovery SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_edit_recovery.cpp
                  LIBS panseg_ui panseg_core GUI)
endif()
# Grow from seeds and the robot user of interactive segmentation (docs/interactive.md), headless.
panseg_add_test(tst_growcut SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_growcut.cpp LIBS panseg_core)
if(TARGET panseg_ui)
  panseg_add_test(tst_interact_gui SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/edit/tst_interact_gui.cpp
                  LIBS panseg_ui panseg_core GUI)
endif()
