panseg_add_test(tst_dicom_seg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/seg/tst_dicom_seg.cpp LIBS panseg_io panseg_core)

# The same through the real `panseg` executable (export-seg, import-seg, deidentify).
if(TARGET panseg)
  panseg_add_test(tst_seg_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/seg/tst_seg_cli.cpp LIBS panseg_io panseg_core)
  target_compile_definitions(tst_seg_cli PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_seg_cli panseg)
endif()
