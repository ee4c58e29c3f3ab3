output "ami_id" {
  description = "The image, in the provider's region."
  value       = golden_ami.web.id
}

output "ami_name" {
  value = golden_ami.web.name
}

output "channel" {
  value = golden_channel.this.name
}
