"""The book side: building the Jupyter Book strictly and offline, executing its pages in parallel,
tracking what each page read, and the Colab setup cell every chapter starts with."""
