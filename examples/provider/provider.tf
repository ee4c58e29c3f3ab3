terraform {
  required_providers {
    golden = {
      source  = "golden-ami/golden"
      version = "~> 0.1"
    }
  }
}

# Credentials come from the standard AWS chain (environment, shared files, SSO, instance role).
provider "golden" {
  region = "us-east-1"
}
