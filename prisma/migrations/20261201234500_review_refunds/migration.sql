-- AlterTable
ALTER TABLE `tb_review_item` ADD COLUMN `out_refund_no` VARCHAR(64) NULL,
    ADD COLUMN `refund_status` VARCHAR(200) NULL;
