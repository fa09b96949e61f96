# Volume tables and exports: the table and its CSV/XLSX/PDF files on real SQLite databases (shared
# data imported in place), the report writer, mask/image/nnU-Net exports, and the CLI.
if(TARGET panseg_ui)
  find_package(Qt6 6.4 REQUIRED COMPONENTS Gui)
  set(_ex ${CMAKE_CURRENT_SOURCE_DIR}/export)
  panseg_add_test(tst_volume_table BOTH_BACKENDS SOURCES ${_ex}/tst_volume_table.cpp ${_ex}/ExportTestUtil.h
                  LIBS panseg_ui panseg_database panseg_io Qt6::Gui)
  panseg_add_test(tst_dataset_export SOURCES ${_ex}/tst_dataset_export.cpp ${_ex}/ExportTestUtil.h
                  LIBS panseg_database panseg_io)
  # The study browser's Export... (NIfTI / NRRD / DICOM SEG) on real widgets and shared data.
  panseg_add_test(tst_export_gui SOURCES ${_ex}/tst_export_gui.cpp LIBS panseg_ui panseg_database panseg_io GUI)
endif()
if(TARGET panseg)
  panseg_add_test(tst_export_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/export/tst_export_cli.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/export/ExportTestUtil.h LIBS panseg_database panseg_io)
  target_compile_definitions(tst_export_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                                                    PANSEG_EXPECTED_VERSION="${PROJECT_VERSION}")
  add_dependencies(tst_export_cli panseg)
endif()
