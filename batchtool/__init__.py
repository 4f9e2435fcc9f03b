"""batchtool: apply a spreadsheet of customer changes through the customer REST API."""
